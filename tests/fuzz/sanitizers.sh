# Sourced by scripts/test and scripts/fuzz: the sanitized build stops at the first report of
# AddressSanitizer (leaks included) or UndefinedBehaviorSanitizer, with its stack.
# The only suppression is ubsan.supp's (a bug of the packaged RapidJSON).
pmdb_fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:print_summary=1"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1:suppressions=$pmdb_fuzz_dir/ubsan.supp"
export LSAN_OPTIONS="print_suppressions=0"
symbolizer=$(command -v llvm-symbolizer-16 || true)
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer" && export UBSAN_SYMBOLIZER_PATH="$symbolizer"
unset symbolizer
