/* Failures injected into the fuzz copy of pam_sesame.so (fuzz/wrap.c):
 * its calls to the allocator and to the file system go through wrappers
 * (ld --wrap) that count them and make one fail, or every one from then
 * on, as the harness plans. Found with dlsym(module, "fuzz_faults"). */
#ifndef SESAME_FUZZ_FAULTS_H
#define SESAME_FUZZ_FAULTS_H

struct fuzz_faults {
	unsigned fail_at;  /* 0: fail nothing; n: the n-th wrapped call fails */
	int persistent;    /* and every later one too (a disk that stays full) */
	unsigned calls;    /* wrapped calls since the plan was set */
	unsigned injected; /* failures injected */
	const char *first; /* the call that failed first */
};

#endif
