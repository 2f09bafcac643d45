/* "did you mean" suggestions for misspelt settings, options and commands. */
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "pkilab/lab.h"

/* Case-insensitive Levenshtein distance, capped for short words. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[65], cur[65];

	if (la > 64 || lb > 64)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			size_t best = prev[j - 1] + cost;
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			cur[j] = best;
		}
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	return prev[lb];
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
