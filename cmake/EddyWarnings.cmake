# Warnings for eddy's own targets. CI builds turn them into errors (EDDY_WARNINGS_AS_ERRORS).
function(eddy_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive- /utf-8 $<$<BOOL:${EDDY_WARNINGS_AS_ERRORS}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
      $<$<BOOL:${EDDY_WARNINGS_AS_ERRORS}>:-Werror>)
  endif()
endfunction()
