/*
 * Bounded HTTP GET over libcurl (see pkilab/fetch.h). Everything that could
 * make `pkilab doctor` hang on a hostile or broken CDP is bounded here: the
 * connect and total deadlines, the body size (the write callback refuses
 * more), the redirect count, and the protocols (http only, also after a
 * redirect). Proxies from the environment are ignored: a proxy would measure
 * the proxy, not the CDP a VPN client reaches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "pkilab/fetch.h"

#define DEF_CONNECT_MS 5000L
#define DEF_TIMEOUT_MS 15000L
#define DEF_MAX_SIZE   ((size_t)16 << 20)

struct xfer {
	struct pkl_fetch_result *res;
	size_t max;
};

/* The default resolve list (PKILAB_RESOLVE, set once at start by pkl_env_apply). */
static const char *default_resolve;

void pkl_fetch_set_resolve(const char *list)
{
	default_resolve = list;
}

void pkl_fetch_opts_init(struct pkl_fetch_opts *o, char *storage, size_t storage_len)
{
	const char *env = default_resolve;

	memset(o, 0, sizeof(*o));
	if (!env || !*env || !storage || storage_len == 0)
		return;
	snprintf(storage, storage_len, "%s", env);
	for (char *save = NULL, *tok = strtok_r(storage, ", \t\n", &save); tok;
	     tok = strtok_r(NULL, ", \t\n", &save))
		if (pkl_fetch_opts_resolve(o, tok, NULL) != PKL_OK)
			continue; /* a malformed entry is ignored; --resolve reports its own */
}

/* HOST:PORT:ADDR or HOST:PORT:ADDR:PORT2; ADDR may be [IPv6]. */
static int resolve_shape(const char *e, int *connect_to)
{
	const char *p = e, *q;
	int colons = 0;

	if (*p == '[') {
		p = strchr(p, ']');
		if (!p)
			return 0;
		p++;
	} else {
		p += strcspn(p, ":");
	}
	if (p == e || *p != ':')
		return 0;
	q = ++p; /* port */
	p += strspn(p, "0123456789");
	if (p == q || *p != ':')
		return 0;
	p++; /* address */
	if (!*p)
		return 0;
	if (*p == '[') {
		p = strchr(p, ']');
		if (!p)
			return 0;
		p++;
		if (*p == ':')
			colons = 1;
		else if (*p)
			return 0;
	} else {
		for (q = p; *q; q++)
			colons += *q == ':';
		if (colons > 1)
			return 0;
	}
	*connect_to = colons == 1;
	if (*connect_to) {
		const char *port2 = strrchr(p, ':') + 1;
		if (!*port2 || port2[strspn(port2, "0123456789")])
			return 0;
	}
	return 1;
}

enum pkl_rc pkl_fetch_opts_resolve(struct pkl_fetch_opts *o, const char *entry, struct pkl_err *err)
{
	int ct;

	if (!resolve_shape(entry, &ct))
		return pkl_err_set(err, PKL_EINPUT, NULL,
				   "bad resolve entry '%s' (expected HOST:PORT:ADDR or "
				   "HOST:PORT:ADDR:PORT)",
				   entry);
	if (o->n_resolve >= PKL_FETCH_MAX_RESOLVE)
		return pkl_err_set(err, PKL_EINPUT, NULL, "too many resolve entries (at most %d)",
				   PKL_FETCH_MAX_RESOLVE);
	o->resolve[o->n_resolve++] = entry;
	return PKL_OK;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *cls)
{
	struct xfer *x = cls;
	size_t n = size * nmemb;

	if (x->res->body.len + n > x->max) {
		x->res->too_large = 1;
		return 0; /* curl aborts with CURLE_WRITE_ERROR */
	}
	if (pkl_buf_append(&x->res->body, ptr, n) != PKL_OK)
		return 0;
	return n;
}

/* Header lines arrive one by one; every response of a redirect chain starts
 * again, so the values of the last response win. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *cls)
{
	struct xfer *x = cls;
	size_t n = size * nmemb;
	char line[256];
	size_t l = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

	memcpy(line, ptr, l);
	line[l] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (!strncasecmp(line, "HTTP/", 5)) {
		x->res->date = 0;
		x->res->content_type[0] = '\0';
	} else if (!strncasecmp(line, "Date:", 5)) {
		time_t t = curl_getdate(line + 5 + strspn(line + 5, " \t"), NULL);
		x->res->date = t > 0 ? (pkl_time)t : 0;
	} else if (!strncasecmp(line, "Content-Type:", 13)) {
		snprintf(x->res->content_type, sizeof(x->res->content_type), "%s",
			 line + 13 + strspn(line + 13, " \t"));
	}
	return n;
}

static int is_http_url(const char *url)
{
	return !strncasecmp(url, "http://", 7) && url[7];
}

enum pkl_rc pkl_fetch_get(const char *url, const struct pkl_fetch_opts *o, struct pkl_fetch_result *res,
			  struct pkl_err *err)
{
	struct curl_slist *resolve = NULL, *connect_to = NULL;
	struct xfer x = { res, o->max_size ? o->max_size : DEF_MAX_SIZE };
	char curl_err[CURL_ERROR_SIZE] = "";
	enum pkl_rc rc = PKL_ERUNTIME;
	CURL *c = NULL;
	CURLcode cc;
	curl_off_t us = 0;

	memset(res, 0, sizeof(*res));
	if (!is_http_url(url))
		return pkl_err_set(err, PKL_EINPUT, url, "only http:// URLs are fetched");
	for (size_t i = 0; i < o->n_resolve; i++) {
		int ct = 0;
		struct curl_slist *t;
		if (!resolve_shape(o->resolve[i], &ct))
			continue;
		t = curl_slist_append(ct ? connect_to : resolve, o->resolve[i]);
		if (!t)
			goto out;
		if (ct)
			connect_to = t;
		else
			resolve = t;
	}
	c = curl_easy_init();
	if (!c)
		goto out;
	/* Every option is checked: a libcurl that silently ignored the protocol,
	 * size or time limits would let a hostile CDP take doctor anywhere. */
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOPROXY, "*") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			     o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEF_CONNECT_MS) !=
		    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : DEF_TIMEOUT_MS) !=
		    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x.max) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, o->max_redirects > 0 ? 1L : 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_MAXREDIRS, o->max_redirects > 0 ? o->max_redirects : 0L) !=
		    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "pkilab-doctor/0.1") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err) != CURLE_OK ||
	    /* No compression: a CRL is DER and served with no-transform (RFC 9111 5.2.2.6). A
	     * typed NULL: a bare NULL may be a plain 0 through the varargs. */
	    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, (char *)NULL) != CURLE_OK ||
	    (resolve && curl_easy_setopt(c, CURLOPT_RESOLVE, resolve) != CURLE_OK) ||
	    (connect_to && curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to) != CURLE_OK))
		goto out;

	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
	curl_easy_getinfo(c, CURLINFO_REDIRECT_COUNT, &res->redirects);
	if (curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK)
		res->elapsed_ms = (long)(us / 1000);
	if (cc == CURLE_OK) {
		res->transferred = 1;
	} else {
		res->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
		if (cc == CURLE_FILESIZE_EXCEEDED)
			res->too_large = 1;
		if (res->too_large)
			snprintf(res->error, sizeof(res->error),
				 "body larger than %zu bytes, transfer aborted", x.max);
		else if (cc == CURLE_TOO_MANY_REDIRECTS)
			snprintf(res->error, sizeof(res->error), "more than %ld redirects", o->max_redirects);
		else
			snprintf(res->error, sizeof(res->error), "%s",
				 curl_err[0] ? curl_err : curl_easy_strerror(cc));
		/* a partial body is no body */
		pkl_buf_free(&res->body);
	}
	rc = PKL_OK;
out:
	if (c)
		curl_easy_cleanup(c);
	curl_slist_free_all(resolve);
	curl_slist_free_all(connect_to);
	if (rc != PKL_OK)
		pkl_err_set(err, rc, url, "cannot set up an HTTP transfer");
	return rc;
}

void pkl_fetch_result_free(struct pkl_fetch_result *res)
{
	if (res)
		pkl_buf_free(&res->body);
}
