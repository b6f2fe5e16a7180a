# Included by the top-level CMakeLists.txt when TSV_FUZZ is on, before any
# library is defined: the project's own static libraries must carry the
# fuzzer's coverage instrumentation and the sanitizers, or the harnesses
# would fuzz blind and miss bugs in the code they exist to test.
if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "TSV_FUZZ needs clang (configure with CC=clang in a separate build dir)")
endif()
if(TSV_SANITIZE)
  message(FATAL_ERROR "TSV_FUZZ already builds with ASan+UBSan; leave TSV_SANITIZE off")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                    -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=address,undefined)
