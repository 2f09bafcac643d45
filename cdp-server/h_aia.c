/*
 * GET|HEAD /aia/<ca>.crt: the DER certificate of a CA the server trusts
 * (standards.md #111: application/pkix-cert). Only trusted certificates are
 * ever served, so neither a file dropped into a publish directory under an
 * explicit --trust nor a peer can introduce a CA.
 */
#include "cdpd.h"

int cdp_h_aia(struct cdp_ctx *ctx, struct MHD_Connection *conn, struct cdp_req *req,
	      const char *name, int head)
{
	(void)head;
	return cdp_serve_entry(ctx, conn, req, CDP_AIA, name);
}
