/* sesame-mint: mint, inspect and revoke sesame login tokens. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "sesame-build.h"

static const char usage_text[] =
	"usage: sesame-mint [-c FILE] --keygen [--rotate | --stage | --promote]\n"
	"                   [--group GROUP | -H HOST]\n"
	"       sesame-mint [-c FILE] [-t DURATION] [-n USES] [-s SERVICE] [-H HOST]\n"
	"                   [--link | --url URL] [--qr utf8|png|svg] [-o FILE]\n"
	"                   [--mail ADDRESS] [-m NOTE] [--json] USER\n"
	"       sesame-mint [-c FILE] [-s SERVICE] [-H HOST] [--json] --inspect TOKEN|LINK|-\n"
	"       sesame-mint [-c FILE] --list [USER] [--all] [--json]\n"
	"       sesame-mint [-c FILE] --history ID|TOKEN|LINK|- [--json]\n"
	"       sesame-mint [-c FILE] --revoke ID|TOKEN|LINK|-\n"
	"       sesame-mint [-c FILE] --revoke-user USER\n"
	"       sesame-mint [-c FILE] --gc\n"
	"       sesame-mint [-c FILE] --migrate-store STATE_DIR [--source HOST]\n"
	"       sesame-mint --help | --version\n"
	"\n"
	"  -c, --config FILE      configuration (default $SESAME_CONF, else\n"
	"                         /etc/security/sesame.conf)\n"
	"      --keygen           create the key file; with --rotate, add a new signing key\n"
	"      --rotate           keep old keys verifying, sign with a new one\n"
	"      --stage            add a verify-only key (fleet rotation, step 1)\n"
	"      --promote          make the newest staged key sign (step 2)\n"
	"      --group GROUP      --keygen: the key file of host group GROUP in key_dir\n"
	"  -t, --lifetime DURATION  token lifetime, e.g. 90s, 15m, 12h, 2d (default max_age)\n"
	"  -n, --uses USES        uses allowed, 0 = any number until expiry (default 1)\n"
	"  -s, --service SERVICE  only valid for this PAM service\n"
	"  -H, --host HOST        only valid on this host, or on the hosts of a group\n"
	"                         (group:NAME, host:NAME, or NAME: a group when\n"
	"                         key_dir has its key file)\n"
	"      --link             print a link built from the configured url\n"
	"      --url URL          print a link built from URL\n"
	"      --qr FORMAT        QR code: utf8 (terminal), png or svg (needs -o FILE)\n"
	"  -o, --output FILE      where --qr png|svg writes (created 0600, never replaced)\n"
	"      --mail ADDRESS     mail the link (or token) with the configured sendmail\n"
	"  -m, --note NOTE        a note kept in the ledger (one line, at most 200 bytes)\n"
	"      --json             print JSON instead of text\n"
	"      --inspect ARG      explain a token or link without using it up\n"
	"      --list             tokens minted here that can still be used (USER: theirs)\n"
	"      --all              with --list: also expired, used-up and revoked ones\n"
	"      --history ARG      one token's story: minted, each use, its revocation\n"
	"      --revoke ARG       revoke one token (ARG: the id --list prints, a token or link)\n"
	"      --revoke-user USER revoke every token of USER issued until now\n"
	"      --gc               remove records of expired tokens from the store\n"
	"      --migrate-store STATE_DIR  copy a file store's uses, revocations and\n"
	"                         ledger into the configured store = etcd\n"
	"      --source HOST      --migrate-store: the host whose store STATE_DIR is\n"
	"                         (needed when it is not this host's state_dir)\n"
	"  -h, --help             this text\n"
	"  -V, --version          version\n"
	"\n"
	"Exit status: 0 ok, 1 token invalid or minting refused, 2 usage or system error.\n";

enum long_only {
	OPT_KEYGEN = 256, OPT_ROTATE, OPT_LINK, OPT_URL, OPT_QR, OPT_MAIL, OPT_JSON,
	OPT_INSPECT, OPT_REVOKE, OPT_REVOKE_USER, OPT_GC, OPT_LIST, OPT_ALL, OPT_HISTORY,
	OPT_STAGE, OPT_PROMOTE, OPT_GROUP, OPT_MIGRATE_STORE, OPT_SOURCE,
};

static const struct option long_options[] = {
	{"config", required_argument, NULL, 'c'},
	{"keygen", no_argument, NULL, OPT_KEYGEN},
	{"rotate", no_argument, NULL, OPT_ROTATE},
	{"stage", no_argument, NULL, OPT_STAGE},
	{"promote", no_argument, NULL, OPT_PROMOTE},
	{"group", required_argument, NULL, OPT_GROUP},
	{"lifetime", required_argument, NULL, 't'},
	{"uses", required_argument, NULL, 'n'},
	{"service", required_argument, NULL, 's'},
	{"host", required_argument, NULL, 'H'},
	{"link", no_argument, NULL, OPT_LINK},
	{"url", required_argument, NULL, OPT_URL},
	{"qr", required_argument, NULL, OPT_QR},
	{"output", required_argument, NULL, 'o'},
	{"mail", required_argument, NULL, OPT_MAIL},
	{"json", no_argument, NULL, OPT_JSON},
	{"inspect", required_argument, NULL, OPT_INSPECT},
	{"revoke", required_argument, NULL, OPT_REVOKE},
	{"revoke-user", required_argument, NULL, OPT_REVOKE_USER},
	{"gc", no_argument, NULL, OPT_GC},
	{"migrate-store", required_argument, NULL, OPT_MIGRATE_STORE},
	{"source", required_argument, NULL, OPT_SOURCE},
	{"note", required_argument, NULL, 'm'},
	{"list", no_argument, NULL, OPT_LIST},
	{"all", no_argument, NULL, OPT_ALL},
	{"history", required_argument, NULL, OPT_HISTORY},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static int usage_error(const char *why)
{
	fprintf(stderr, "sesame-mint: %s\n%s", why, usage_text);
	return EXIT_ERROR;
}

static int parse_qr(const char *s, enum qr_format *out)
{
	if (strcmp(s, "utf8") == 0)
		*out = QR_UTF8;
	else if (strcmp(s, "png") == 0)
		*out = QR_PNG;
	else if (strcmp(s, "svg") == 0)
		*out = QR_SVG;
	else
		return -1;
	return 0;
}

/* 0 parsed, 1 --help/--version done, -1 usage error. */
static int parse_option(int c, struct cli_options *o)
{
	switch (c) {
	case 'c': o->config = optarg; break;
	case 't': o->lifetime = optarg; break;
	case 'n': o->uses = optarg; break;
	case 's': o->service = optarg; break;
	case 'H': o->host = optarg; break;
	case 'o': o->output = optarg; break;
	case OPT_KEYGEN: o->keygen = 1; break;
	case OPT_ROTATE: o->rotate = 1; break;
	case OPT_STAGE: o->stage = 1; break;
	case OPT_PROMOTE: o->promote = 1; break;
	case OPT_GROUP: o->group = optarg; break;
	case OPT_LINK: o->link = 1; break;
	case OPT_URL: o->url = optarg; break;
	case OPT_QR: return parse_qr(optarg, &o->qr) == 0 ? 0 : -1;
	case OPT_MAIL: o->mail = optarg; break;
	case OPT_JSON: o->json = 1; break;
	case OPT_INSPECT: o->inspect = optarg; break;
	case OPT_REVOKE: o->revoke = optarg; break;
	case OPT_REVOKE_USER: o->revoke_user = optarg; break;
	case OPT_GC: o->gc = 1; break;
	case OPT_MIGRATE_STORE: o->migrate_store = optarg; break;
	case OPT_SOURCE: o->source = optarg; break;
	case 'm': o->note = optarg; break;
	case OPT_LIST: o->list = 1; break;
	case OPT_ALL: o->all = 1; break;
	case OPT_HISTORY: o->history = optarg; break;
	case 'h': fputs(usage_text, stdout); return 1;
	case 'V': printf("sesame-mint %s\n", SESAME_VERSION); return 1;
	default: return -1;
	}
	return 0;
}

static int mint_options_used(const struct cli_options *o)
{
	return o->lifetime || o->uses || o->link || o->url || o->qr != QR_NONE || o->output ||
	       o->mail || o->note;
}

/* One mode per run; options that belong to another mode are errors, not
 * silently ignored. */
static const char *check_combination(const struct cli_options *o)
{
	int modes = o->keygen + (o->inspect != NULL) + (o->revoke != NULL) +
		    (o->revoke_user != NULL) + o->gc + o->list + (o->history != NULL) +
		    (o->migrate_store != NULL);

	if (modes > 1)
		return "choose one of --keygen, --inspect, --list, --history, --revoke, "
		       "--revoke-user, --gc, --migrate-store";
	if (o->all && !o->list)
		return "--all goes with --list";
	if (o->source != NULL && o->migrate_store == NULL)
		return "--source goes with --migrate-store";
	if (o->note != NULL && cli_note_problem(o->note) != NULL)
		return cli_note_problem(o->note);
	if (o->rotate && !o->keygen)
		return "--rotate goes with --keygen";
	if ((o->stage || o->promote || o->group) && !o->keygen)
		return "--stage, --promote and --group go with --keygen";
	if (o->rotate + o->stage + o->promote > 1)
		return "choose one of --rotate, --stage, --promote";
	if (o->keygen && o->group && o->host)
		return "--group and -H exclude each other";
	if (o->keygen && o->service)
		return "-s does not go with --keygen";
	if (modes == 1 && o->user != NULL && !o->list)
		return "unexpected USER operand";
	if (modes == 1 && mint_options_used(o))
		return "minting options given without a USER to mint for";
	if ((o->service || o->host) && modes == 1 && o->inspect == NULL && o->revoke == NULL &&
	    !o->keygen)
		return "-s and -H go with minting, --inspect or --revoke";
	if (o->json && modes == 1 && o->inspect == NULL && !o->list && o->history == NULL)
		return "--json goes with minting, --inspect, --list or --history";
	if (modes == 0 && o->user == NULL)
		return "missing USER";
	if (o->json && o->qr == QR_UTF8)
		return "--json and --qr utf8 both write to stdout: use --qr png or svg with -o";
	if (o->link && o->url)
		return "--link and --url exclude each other";
	if ((o->qr == QR_PNG || o->qr == QR_SVG) != (o->output != NULL))
		return "--qr png and --qr svg need -o FILE, and -o needs one of them";
	return NULL;
}

static int run(const struct cli_options *o)
{
	if (o->keygen)
		return cli_keygen(o);
	if (o->inspect)
		return cli_inspect(o);
	if (o->revoke)
		return cli_revoke(o);
	if (o->revoke_user)
		return cli_revoke_user(o);
	if (o->gc)
		return cli_gc(o);
	if (o->migrate_store)
		return cli_migrate_store(o);
	if (o->list)
		return cli_list(o);
	if (o->history)
		return cli_history(o);
	return cli_mint(o);
}

int main(int argc, char **argv)
{
	struct cli_options o;
	struct rlimit no_core = {0, 0};
	const char *bad;
	int c, r;

	/* Keys and tokens pass through this process: no core dumps of it. */
	setrlimit(RLIMIT_CORE, &no_core);
	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "c:t:n:s:H:o:m:hV", long_options, NULL)) != -1) {
		r = parse_option(c, &o);
		if (r > 0)
			return EXIT_OK;
		if (r < 0)
			return usage_error(c == OPT_QR ? "--qr takes utf8, png or svg"
						       : "bad option");
	}
	if (optind < argc)
		o.user = argv[optind++];
	if (optind < argc)
		return usage_error("too many operands");
	bad = check_combination(&o);
	if (bad != NULL)
		return usage_error(bad);
	return run(&o);
}
