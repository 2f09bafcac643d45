/* "did you mean" suggestions for misspelt settings, options and commands. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "pkilab/lab.h"

/* Case-insensitive optimal-string-alignment distance: Levenshtein plus
 * the transposition of two neighbours ("nmae" -> "name") as one edit. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[65][65];

	if (la > 64 || lb > 64)
		return 99;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
			size_t best = d[i - 1][j - 1] + (ca != cb);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *pkl_suggest(const char *word, const char *const *names)
{
	const char *best = NULL;
	size_t best_d = 4, limit = strlen(word) <= 4 ? 1 : strlen(word) <= 7 ? 2 : 3;

	for (size_t i = 0; names && names[i]; i++) {
		size_t d = edit_distance(word, names[i]);
		if (d < best_d && d <= limit) {
			best_d = d;
			best = names[i];
		}
	}
	return best;
}

const char *pkl_suggest_hint(const char *word, const char *const *names, char *buf, size_t len)
{
	const char *s = pkl_suggest(word, names);

	if (!len)
		return "";
	if (s)
		snprintf(buf, len, " (did you mean '%s'?)", s);
	else
		buf[0] = '\0';
	return buf;
}
