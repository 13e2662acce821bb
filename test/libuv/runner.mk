# Builds one of libuv's runners (run-tests or run-benchmarks) out of libuv's
# own test sources, in the current directory. Driven by suite.sh and
# bench.sh, which pass:
#   SRCDIR      libuv's test/ directory
#   SOURCES     the .c files (names relative to SRCDIR)
#   PROG        output name
#   UV_CPPFLAGS where uv.h comes from (system or ours)
#   UV_LIBS     what the runner links to for libuv
# flags.stamp changes whenever those do, so a switch of headers or library
# rebuilds everything; -MMD tracks the headers themselves.

CC ?= cc
CFLAGS ?= -O1 -g
WARN = -Wno-unused-parameter -Wno-sign-compare

vpath %.c $(SRCDIR)

OBJS = $(SOURCES:.c=.o)

$(PROG): $(OBJS) flags.stamp
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(UV_LIBS) -lpthread -ldl -lm

%.o: %.c flags.stamp
	$(CC) $(CFLAGS) $(WARN) -D_GNU_SOURCE $(UV_CPPFLAGS) -I$(SRCDIR) \
	  -MMD -MP -c $< -o $@

-include $(OBJS:.o=.d)
