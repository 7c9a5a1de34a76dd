# Run at install time: nk_sysconfdir(OUT PREFIX ETC) sets OUT to the
# absolute configuration directory of an install to PREFIX, by the rule
# GNUInstallDirs applies to SYSCONFDIR -- /etc for the prefixes / and /usr,
# /etc/opt/NAME for /opt/NAME (not under /opt/homebrew/), PREFIX/ETC
# otherwise; an absolute ETC as it is.  At configure time GNUInstallDirs
# gives the same for the configured prefix (CMAKE_INSTALL_FULL_SYSCONFDIR);
# `make install PREFIX=...` and `cmake --install --prefix` change the
# prefix after that.  core/config/sysconf.c is the binary's copy of the rule.
function(nk_sysconfdir out prefix etc)
  string(REGEX REPLACE "(.)/+$" "\\1" prefix "${prefix}")
  if(IS_ABSOLUTE "${etc}")
    set(dir "${etc}")
  elseif(prefix STREQUAL "/" OR prefix STREQUAL "/usr")
    set(dir "/${etc}")
  elseif(prefix MATCHES "^/opt/." AND NOT prefix MATCHES "^/opt/homebrew/")
    set(dir "/${etc}${prefix}")
  else()
    set(dir "${prefix}/${etc}")
  endif()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()
