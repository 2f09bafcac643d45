/*
 * measure CMD ARGS...: runs a command and prints
 * "wall_ms=N cpu_ms=N maxrss_kb=N rc=N" on stderr -- CPU time (user + system)
 * and peak resident set size from wait4()'s rusage, so the benchmark needs
 * no /usr/bin/time. CPU time makes a figure that holds on a busy machine
 * (leaves per CPU-second) and shows how many cores were used (cpu / wall).
 * Benchmark helper, not part of pkilab.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec a, b;
	struct rusage ru;
	int st = 0;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: measure CMD [ARGS...]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	pid = fork();
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &st, 0, &ru) < 0)
		return 3;
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "wall_ms=%ld cpu_ms=%ld maxrss_kb=%ld rc=%d\n",
		(long)((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000),
		(long)((ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
		       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000),
		ru.ru_maxrss,
		WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
