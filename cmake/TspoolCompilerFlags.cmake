# TspoolCompilerFlags.cmake - warnings as errors and the TSPOOL_SANITIZE option
# SPDX-License-Identifier: MIT
add_compile_options(
    -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wconversion -Wsign-conversion
    -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition -Wpointer-arith
    -Wcast-qual -Wwrite-strings -Wundef -Wvla -Wnull-dereference -Wdouble-promotion
    -fno-common)
add_compile_definitions(_POSIX_C_SOURCE=200809L)

if(TSPOOL_SANITIZE)
    if(NOT CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
        message(FATAL_ERROR "TSPOOL_SANITIZE needs GCC or Clang, not ${CMAKE_C_COMPILER_ID}")
    endif()
    if(TSPOOL_SANITIZE STREQUAL "address,undefined" OR TSPOOL_SANITIZE STREQUAL "undefined,address")
        set(_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
    elseif(TSPOOL_SANITIZE STREQUAL "address")
        set(_san -fsanitize=address -fno-omit-frame-pointer)
    elseif(TSPOOL_SANITIZE STREQUAL "undefined")
        set(_san -fsanitize=undefined -fno-sanitize-recover=all)
    elseif(TSPOOL_SANITIZE STREQUAL "thread")
        set(_san -fsanitize=thread -fno-omit-frame-pointer)
    else()
        message(FATAL_ERROR
            "TSPOOL_SANITIZE='${TSPOOL_SANITIZE}' is not supported; "
            "use 'address,undefined', 'address', 'undefined' or 'thread'")
    endif()
    add_compile_options(${_san})
    add_link_options(${_san})
endif()
