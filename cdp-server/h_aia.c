/*
 * GET|HEAD /aia/<ca>.crt: the DER certificate of a CA the server trusts
 * (RFC 5280 §4.2.2.1: application/pkix-cert): a configured one, or in mirror
 * mode one learned from a peer because a configured CA issued it
 * (cdp_catalog_offer_ca). Nothing else is ever served, so neither a file
 * dropped into a publish directory under an explicit --trust nor a peer can
 * introduce a root or a CA of its own.
 */
#include "cdpd.h"

int cdp_h_aia(struct cdp_ctx *ctx, struct MHD_Connection *conn, struct cdp_req *req, const char *name,
	      int head)
{
	(void)head;
	return cdp_serve_entry(ctx, conn, req, CDP_AIA, name);
}
