/* pkilab show — not written yet; its owner replaces this file. */
#include <stdio.h>
#include "../cli/cli.h"

int cmd_show(int argc, char **argv, struct pkl_cli *cli)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "%s: error: 'show' is not available in this build\n", cli->prog);
	return 3;
}
