/* test_ctl_proto.c - daemon/ctl_proto.c: the control protocol's request
 * line (docs/control-protocol.md).  tests/fuzz/fuzz_ctl.c fuzzes it. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ctl_proto.h"

static enum ctl_req_rc parse(const char *line, struct ctl_req *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s", line);
	return ctl_parse_request(buf, r);
}

static void test_requests(void **state)
{
	struct ctl_req r;
	char buf[256];

	(void)state;
	assert_int_equal(parse("IOPD/1 text status", &r, buf, sizeof buf), CTL_REQ_OK);
	assert_false(r.json);
	assert_int_equal(r.argc, 1);
	assert_string_equal(r.argv[0], "status");
	assert_int_equal(parse("IOPD/1 json opt-out p%2D1 sms", &r, buf, sizeof buf), CTL_REQ_OK);
	assert_true(r.json);
	assert_int_equal(r.argc, 3);
	assert_string_equal(r.argv[1], "p-1");
	assert_string_equal(r.argv[2], "sms");
	/* a space, a newline, UTF-8: all percent-encoded */
	assert_int_equal(parse("IOPD/1 text history a%20b%0Ac%C3%A9", &r, buf, sizeof buf), CTL_REQ_OK);
	assert_string_equal(r.argv[1], "a b\nc\xc3\xa9");
	/* eight arguments are the most */
	assert_int_equal(parse("IOPD/1 text x 1 2 3 4 5 6 7 8", &r, buf, sizeof buf), CTL_REQ_OK);
	assert_int_equal(r.argc, 9);
}

static void test_refused(void **state)
{
	struct ctl_req r;
	char buf[256];

	(void)state;
	assert_int_equal(parse("IOPD/1 text x 1 2 3 4 5 6 7 8 9", &r, buf, sizeof buf),
	    CTL_REQ_TOO_MANY);
	assert_int_equal(parse("IOPD/2 text status", &r, buf, sizeof buf), CTL_REQ_NOT_IOPD);
	assert_int_equal(parse("IOPD/1 xml status", &r, buf, sizeof buf), CTL_REQ_NOT_IOPD);
	assert_int_equal(parse("IOPD/1 json", &r, buf, sizeof buf), CTL_REQ_NOT_IOPD);
	assert_int_equal(parse("GET / HTTP/1.1", &r, buf, sizeof buf), CTL_REQ_NOT_IOPD);
	assert_int_equal(parse("", &r, buf, sizeof buf), CTL_REQ_NOT_IOPD);
	assert_int_equal(parse("IOPD/1 json pause %00", &r, buf, sizeof buf), CTL_REQ_BAD_ESCAPE);
	assert_true(r.json);                       /* the error is answered in JSON */
	assert_int_equal(parse("IOPD/1 text pause ab%4", &r, buf, sizeof buf), CTL_REQ_BAD_ESCAPE);
	assert_string_equal(r.bad, "ab%4");
	assert_int_equal(parse("IOPD/1 text pause %zz", &r, buf, sizeof buf), CTL_REQ_BAD_ESCAPE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
