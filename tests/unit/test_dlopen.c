/* The module exports pam_sm_authenticate and pam_sm_setcred and nothing
 * else (pam/pam_sesame.map). Two views: what dlsym finds, and the ELF
 * dynamic symbol table itself, so that removing the version script (which
 * would export all of common/) fails this test. Usage: test_dlopen MODULE */
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static const char *const exported[] = { "pam_sm_authenticate", "pam_sm_setcred" };

/* Names from common/ and from the module's own files that must stay
 * hidden, and PAM entry points the module does not provide. */
static const char *const hidden[] = {
	"sesame_attempt_run", "sesame_attempt_init", "sesame_mint", "sesame_config_set",
	"sesame_config_load", "sesame_token_parse", "sesame_keyring_load", "sesame_store_redeem",
	"sesame_wipe", "pam_sesame_args_parse", "pam_sesame_input_get", "pam_sesame_report",
	"authenticate", "verdict", "find_user", "converse", "pam_sm_acct_mgmt",
	"pam_sm_open_session", "pam_sm_close_session", "pam_sm_chauthtok",
};

static void check_dlsym(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	size_t i;

	CHECK(h != NULL);
	if (h == NULL) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		return;
	}
	for (i = 0; i < sizeof(exported) / sizeof(exported[0]); i++) {
		void *sym = dlsym(h, exported[i]);

		CHECK(sym != NULL);
		if (sym == NULL)
			fprintf(stderr, "not exported: %s\n", exported[i]);
	}
	for (i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		void *sym = dlsym(h, hidden[i]);

		CHECK(sym == NULL);
		if (sym != NULL)
			fprintf(stderr, "visible: %s\n", hidden[i]);
	}
	CHECK(dlclose(h) == 0);
}

static int is_exported_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(exported) / sizeof(exported[0]); i++)
		if (strcmp(name, exported[i]) == 0)
			return 1;
	return 0;
}

/* Count the defined global symbols of the dynamic symbol table; each
 * must be one of `exported`. Returns how many matched. */
static int scan_dynsym(const unsigned char *base, size_t size, int *unexpected)
{
	const ElfW(Ehdr) *eh = (const void *)base;
	const ElfW(Shdr) *sh = (const void *)(base + eh->e_shoff);
	int found = 0;
	size_t i, j;

	for (i = 0; i < eh->e_shnum; i++) {
		const ElfW(Sym) *syms = (const void *)(base + sh[i].sh_offset);
		const char *strtab = (const char *)base + sh[sh[i].sh_link].sh_offset;

		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_offset + sh[i].sh_size > size)
			continue;
		for (j = 1; j < sh[i].sh_size / sizeof(ElfW(Sym)); j++) {
			int bind = ELF64_ST_BIND(syms[j].st_info);
			const char *name = strtab + syms[j].st_name;

			if (syms[j].st_shndx == SHN_UNDEF || bind == STB_LOCAL)
				continue;
			if (is_exported_name(name)) {
				found++;
			} else {
				fprintf(stderr, "unexpected dynamic symbol: %s\n", name);
				(*unexpected)++;
			}
		}
	}
	return found;
}

static void check_elf(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *map = MAP_FAILED;
	int unexpected = 0;

	CHECK(fd >= 0);
	if (fd < 0 || fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(ElfW(Ehdr)))
		goto out;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(map != MAP_FAILED);
	if (map == MAP_FAILED)
		goto out;
	CHECK(memcmp(map, ELFMAG, SELFMAG) == 0);
	CHECK(((const unsigned char *)map)[EI_CLASS] == (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32));
	CHECK_EQ_INT(scan_dynsym(map, (size_t)st.st_size, &unexpected), 2);
	CHECK_EQ_INT(unexpected, 0);
out:
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s MODULE\n", argv[0]);
		return 2;
	}
	check_dlsym(argv[1]);
	check_elf(argv[1]);
	return test_finish("dlopen");
}
