# python/: the Python binding (issue 15), a CPython extension module
# against the public <ipcd.h>, built as a libtool module and linked into
# python/ipcd/_ipcd$(PYTHON_EXT_SUFFIX) beside the package's .py files, so
# that PYTHONPATH=$(top_builddir)/python imports the build tree.  `make
# install` puts the package in $(pyipcddir) (configure --with-python-dir;
# libtool relinks the module against the installed library); `pip install
# ./python` is the other way (python/setup.py).

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
	python/tests/test_sender_unit.py \
	python/tests/test_bulk.py \
	python/tests/test_aio.py \
	python/tests/test_interop.py \
	python/tests/test_examples.py \
	python/bench.py \
	python/examples/printer.py \
	python/examples/pubsub.py \
	python/examples/clock.py \
	python/examples/asyncio_listener.py

if ENABLE_PYTHON
pyipcddir = $(PYTHON_DIR)/ipcd
pyipcd_LTLIBRARIES = python/ipcd/_ipcd.la
pyipcd_DATA = $(PYTHON_SRC_FILES)
python_ipcd__ipcd_la_SOURCES = python/ipcd/_ipcd.c
python_ipcd__ipcd_la_CPPFLAGS = $(AM_CPPFLAGS) $(PYTHON_CPPFLAGS)
python_ipcd__ipcd_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared \
	-shrext $(PYTHON_EXT_SUFFIX)
python_ipcd__ipcd_la_LIBADD = src/lib/libipcd-client.la

# Python imports the module by its file name, and has no use for the .la
# (without which libtool's uninstall does not know the module: remove it
# by name).
install-data-hook: install-data-hook-python
install-data-hook-python:
	rm -f $(DESTDIR)$(pyipcddir)/_ipcd.la
uninstall-hook: uninstall-hook-python
uninstall-hook-python:
	rm -f $(DESTDIR)$(pyipcddir)/_ipcd$(PYTHON_EXT_SUFFIX)
	rmdir $(DESTDIR)$(pyipcddir) 2>/dev/null || :

# The build tree's package: the module beside the .py files (copies of
# them in a VPATH build).
PYTHON_EXT = python/ipcd/_ipcd$(PYTHON_EXT_SUFFIX)
noinst_DATA = $(PYTHON_EXT)
CLEANFILES += $(PYTHON_EXT) python/test-python
$(PYTHON_EXT): python/ipcd/_ipcd.la
	$(AM_V_GEN)rm -f $@ && cp -f python/ipcd/.libs/_ipcd$(PYTHON_EXT_SUFFIX) $@ && \
	if test '$(srcdir)' != '.'; then \
	    for f in $(PYTHON_SRC_FILES); do cp -f $(srcdir)/$$f $$f || exit 1; done; \
	fi

# With --enable-sanitizers the library needs the sanitizer runtimes, which
# an uninstrumented python3 does not load: the test preloads them.
if ENABLE_TSAN
PYTHON_TEST_PRELOAD = $$($(CC) -print-file-name=libtsan.so)
else
if ENABLE_SANITIZERS
PYTHON_TEST_PRELOAD = $$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)
else
PYTHON_TEST_PRELOAD =
endif
endif

# The pytest suite against a real ipcd in a private IPC namespace.
python/test-python: $(top_srcdir)/python/test-python.sh.in Makefile
	$(AM_V_GEN)$(MKDIR_P) python && \
	sed -e 's|@PYTHON[@]|$(PYTHON)|g' -e "s|@PRELOAD[@]|$(PYTHON_TEST_PRELOAD)|g" \
	    $(top_srcdir)/python/test-python.sh.in >$@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@
check_SCRIPTS += python/test-python
TESTS += python/test-python

# The Python rows of the benchmark (issue 15) alone: section 8 of
# ipcd-bench (`make bench` runs it with every other section).
bench-python: all
	bench/ipcd-bench --only python
endif

# Copies of the package's sources in a VPATH build go with `make clean`
# (in the source tree they are the sources).
clean-local: clean-local-python
clean-local-python:
	@if test '$(srcdir)' != '.'; then rm -f $(PYTHON_SRC_FILES); fi
.PHONY: clean-local-python bench-python install-data-hook-python uninstall-hook-python
