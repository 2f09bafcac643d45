/*
 * libFuzzer harness over the lab-file loader: libconfig parsing, template
 * resolution, settings validation and hierarchy checks. Any input must give
 * either a lab or one error message — never a crash, leak or hang.
 * The input is written to a file because libconfig reads files (which is
 * also how `#include` directives would be resolved: they are confined to the
 * fuzzer's temporary directory).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkilab/lab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[] = "/tmp/pkl-fuzz-lab-XXXXXX";
	static int fd = -1;
	struct pkl_err err = { 0 };
	struct pkl_lab *lab;

	if (fd < 0) {
		fd = mkstemp(path);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	lab = pkl_lab_load(path, 1800000000, NULL, &err);
	if (!lab && (err.rc == PKL_OK || !err.msg[0]))
		abort(); /* a failure must say why */
	pkl_lab_free(lab);
	return 0;
}
