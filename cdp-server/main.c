/* pkilab-cdpd — placeholder until the server lands. */
#include <stdio.h>
int main(void)
{
	fprintf(stderr, "pkilab-cdpd: error: not available in this build\n");
	return 3;
}
