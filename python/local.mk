# python/: the Python binding (issue 15), a CPython extension module
# against the public <ipcd.h>, built here as a plain shared object
# python/ipcd/_ipcd$(PYTHON_EXT_SUFFIX) beside the package's .py files, so
# that PYTHONPATH=$(top_builddir)/python imports the build tree.  Installing
# it is pip's job (pip install ./python); see python/setup.py.

PYTHON_SRC_FILES = \
	python/ipcd/__init__.py \
	python/ipcd/__init__.pyi \
	python/ipcd/aio.py \
	python/ipcd/aio.pyi \
	python/ipcd/py.typed
EXTRA_DIST += \
	python/ipcd/_ipcd.c \
	$(PYTHON_SRC_FILES) \
	python/pyproject.toml \
	python/setup.py \
	python/README.md \
	python/test-python.sh.in \
	python/tests/conftest.py \
	python/tests/test_ipcd.py \
	python/tests/test_bulk.py \
	python/tests/test_aio.py \
	python/tests/test_interop.py \
	python/tests/test_examples.py \
	python/bench.py \
	python/bench-python.sh \
	python/examples/printer.py \
	python/examples/pubsub.py \
	python/examples/clock.py \
	python/examples/asyncio_listener.py

if ENABLE_PYTHON
PYTHON_EXT = python/ipcd/_ipcd$(PYTHON_EXT_SUFFIX)
noinst_DATA = $(PYTHON_EXT)
CLEANFILES += $(PYTHON_EXT) python/test-python

# The extension links the uninstalled library; its rpath points into the
# build tree (this object is never installed).
$(PYTHON_EXT): $(top_srcdir)/python/ipcd/_ipcd.c $(top_srcdir)/include/ipcd.h \
		src/lib/libipcd-client.la
	$(AM_V_CC)$(MKDIR_P) python/ipcd && \
	$(CC) -shared -fPIC $(PYTHON_CPPFLAGS) -I$(top_srcdir)/include \
	    $(WARN_CFLAGS) $(SAN_CFLAGS) $(CFLAGS) -pthread -o $@ $(top_srcdir)/python/ipcd/_ipcd.c \
	    -L$(abs_top_builddir)/src/lib/.libs -Wl,-rpath,$(abs_top_builddir)/src/lib/.libs \
	    -lipcd-client $(SAN_LDFLAGS) $(LDFLAGS)
	@if test '$(srcdir)' != '.'; then \
	    for f in $(PYTHON_SRC_FILES); do cp -f $(srcdir)/$$f $$f || exit 1; done; \
	fi

# With --enable-sanitizers the library needs the sanitizer runtimes, which
# an uninstrumented python3 does not load: the test preloads them.
if ENABLE_SANITIZERS
PYTHON_TEST_PRELOAD = $$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)
else
PYTHON_TEST_PRELOAD =
endif

# The pytest suite against a real ipcd in a private IPC namespace.
python/test-python: $(top_srcdir)/python/test-python.sh.in Makefile
	$(AM_V_GEN)$(MKDIR_P) python && \
	sed -e 's|@PYTHON[@]|$(PYTHON)|g' -e "s|@PRELOAD[@]|$(PYTHON_TEST_PRELOAD)|g" \
	    $(top_srcdir)/python/test-python.sh.in >$@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@
check_SCRIPTS += python/test-python
TESTS += python/test-python

# The Python rows of the benchmark (issue 15): the binding against pyzmq.
bench-python: all tests/test-probe
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	IPCD='$(abs_top_builddir)/src/ipcd/ipcd' PYTHON='$(PYTHON)' \
	    $(SHELL) $(top_srcdir)/python/bench-python.sh $(BENCH_SECONDS)
endif

# Copies of the package's sources in a VPATH build go with `make clean`
# (in the source tree they are the sources).
clean-local: clean-local-python
clean-local-python:
	@if test '$(srcdir)' != '.'; then rm -f $(PYTHON_SRC_FILES); fi
.PHONY: clean-local-python bench-python
