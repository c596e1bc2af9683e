# Helpers that give every project target the same flags.
#
#   homestead_library(NAME <name> [ALIAS <alias>] SOURCES ... [DEPS ...] [PUBLIC_INCLUDE <dir>])
#   homestead_executable(NAME <name> SOURCES ... [DEPS ...])
#   homestead_test(NAME <name> LABEL unit|sim|integration|e2e|cross SOURCES ... [DEPS ...] [TIMEOUT s])
#
# Project code builds with -Wall -Wextra -Werror; third-party headers come in as SYSTEM
# includes through their imported targets, so their warnings never fail our build.

set(HOMESTEAD_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)

function(homestead_apply_flags target)
  target_compile_options(${target} PRIVATE ${HOMESTEAD_WARNINGS})
  if(HOMESTEAD_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

function(homestead_library)
  cmake_parse_arguments(ARG "" "NAME;ALIAS" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${ARG_NAME} STATIC ${ARG_SOURCES})
  # Headers are included as "<folder>/<file>.h" from the repository root.
  target_include_directories(${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  homestead_apply_flags(${ARG_NAME})
  if(ARG_ALIAS)
    add_library(${ARG_ALIAS} ALIAS ${ARG_NAME})
  else()
    add_library(homestead::${ARG_NAME} ALIAS ${ARG_NAME})
  endif()
endfunction()

function(homestead_executable)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  homestead_apply_flags(${ARG_NAME})
endfunction()

function(homestead_test)
  cmake_parse_arguments(ARG "" "NAME;LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_LABEL MATCHES "^(unit|sim|integration|e2e|cross|soak)$")
    message(FATAL_ERROR "homestead_test(${ARG_NAME}): LABEL must be unit, sim, integration, e2e, cross or soak")
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  homestead_apply_flags(${ARG_NAME})
  # One ctest entry per executable keeps discovery cheap (no per-case process under ASan);
  # gtest's own output names the failing case and the seed.
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME} --gtest_color=no)
  # Remembered per tier so a tier's executables can be built alone (target tier_<label>),
  # which the cross tier uses to build only unit + sim tests for aarch64.
  set_property(GLOBAL APPEND PROPERTY HOMESTEAD_TIER_${ARG_LABEL} ${ARG_NAME})
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "HOMESTEAD_BUILD_DIR=${PROJECT_BINARY_DIR};HOMESTEAD_SOURCE_DIR=${PROJECT_SOURCE_DIR};LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/lsan.supp")
endfunction()

# tier_unit, tier_sim, ...: build just the test executables of one tier.
function(homestead_tier_targets)
  foreach(label unit sim integration e2e cross soak)
    get_property(executables GLOBAL PROPERTY HOMESTEAD_TIER_${label})
    add_custom_target(tier_${label})
    if(executables)
      add_dependencies(tier_${label} ${executables})
    endif()
  endforeach()
endfunction()
