# The fuzzing build (-DAUTOVIBE_FUZZ=ON, clang; ./scripts/fuzz.sh makes it in build-fuzz/):
# every folder is compiled with libFuzzer's coverage instrumentation and AddressSanitizer and
# UndefinedBehaviorSanitizer, and tests/fuzz/ links one libFuzzer program per target. Any
# undefined behaviour stops the run, as a crash does.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "AUTOVIBE_FUZZ needs clang (CC=clang-14 CXX=clang++-14)")
endif()
set(AV_SANITIZERS address,undefined)
# -fsanitize=function (part of undefined for C++ in clang 14) cannot compile Asio's coroutines:
# "error: Cannot represent a difference across sections".
add_compile_options(-fsanitize=fuzzer-no-link,${AV_SANITIZERS} -fno-sanitize=function
                    -fno-sanitize-recover=all -fno-omit-frame-pointer)
add_link_options(-fsanitize=${AV_SANITIZERS} -fno-sanitize=function)
