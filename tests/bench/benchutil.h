/* Clocks and order statistics shared by the benchmark programs. */
#ifndef SESAME_BENCHUTIL_H
#define SESAME_BENCHUTIL_H

#include <stddef.h>

/* Seconds on the monotonic wall clock, and CPU seconds of this thread:
 * throughput is per core, so it is divided by CPU time, as `openssl
 * speed` does, and a busy neighbour on the machine does not skew it. */
double bench_wall(void);
double bench_cpu(void);

/* CPU seconds of this process and of the children it reaped (a login's
 * helper processes), user and system. */
double bench_cpu_with_children(void);

/* The q-quantile (0..1) of n samples, sorting them in place. */
double bench_quantile(double *samples, size_t n, double q);

double bench_mean(const double *samples, size_t n);

#endif
