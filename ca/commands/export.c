/* pkilab export — not written yet; its owner replaces this file. */
#include <stdio.h>
#include "../cli/cli.h"

int cmd_export(int argc, char **argv, struct pkl_cli *cli)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "%s: error: 'export' is not available in this build\n", cli->prog);
	return 3;
}
