/*
 * GET|HEAD /crl/<ca>.crl: the CRL a trusted CA published, with the caching
 * headers of cdp_serve_entry() (serve.c).
 */
#include "cdpd.h"

int cdp_h_crl(struct cdp_ctx *ctx, struct MHD_Connection *conn, struct cdp_req *req, const char *name,
	      int head)
{
	(void)head; /* MHD sends headers only for HEAD, with the GET Content-Length */
	return cdp_serve_entry(ctx, conn, req, CDP_CRL, name);
}
