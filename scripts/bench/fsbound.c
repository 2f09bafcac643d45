/*
 * The filesystem bound of issuance (scripts/bench/issue.sh): how fast this
 * machine can create the files the PKI layout requires per leaf -- a key in
 * private/ (0600), a certificate and a chain in certs/ -- with one syncfs()
 * at the end, exactly as `pkilab build` writes a fresh PKI, but with no
 * crypto and no database. pkilab cannot issue faster than this.
 *   fsbound DIR N     prints "files=.. wall_ms=.. leaves_per_s=.."
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int put(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char p[4096], blob[1400];
	long n;
	double t0;

	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: fsbound DIR N\n");
		return 2;
	}
	memset(blob, 'A', sizeof(blob)); /* sizes of a P-256 key / leaf / chain PEM */
	snprintf(p, sizeof(p), "%s/private", argv[1]);
	if (mkdir(argv[1], 0755) != 0 || mkdir(p, 0700) != 0)
		return perror(argv[1]), 1;
	snprintf(p, sizeof(p), "%s/certs", argv[1]);
	if (mkdir(p, 0755) != 0)
		return perror(p), 1;
	t0 = now_ms();
	for (long i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/private/l%ld.key", argv[1], i);
		if (put(p, blob, 241, 0600))
			return 1;
		snprintf(p, sizeof(p), "%s/certs/l%ld.pem", argv[1], i);
		if (put(p, blob, 800, 0644))
			return 1;
		snprintf(p, sizeof(p), "%s/certs/l%ld-chain.pem", argv[1], i);
		if (put(p, blob, 1400, 0644))
			return 1;
	}
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0 || syncfs(fd) != 0)
		return perror("syncfs"), 1;
	close(fd);
	double ms = now_ms() - t0;
	printf("files=%ld wall_ms=%.0f leaves_per_s=%.1f\n", 3 * n, ms, n * 1000.0 / (ms > 0 ? ms : 1));
	return 0;
}
