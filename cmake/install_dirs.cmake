# Run at install time, before any file is installed: append to
# NK_DIRS_FILE every directory the install is about to create (those under
# DESTDIR + the install prefix that do not exist yet, up to the first that
# does), so that `make uninstall` removes exactly the directories the
# install made, and leaves the prefix as it was.
#
# In: NK_INSTALL_SUBDIRS (destinations relative to the prefix, or
#     absolute, such as /etc/netkit; DESTDIR goes in front of either), and
#     $ENV{NK_INSTALL_DIRS_FILE}, the record: `make install` sets it; a plain
#     `cmake --install` (as the tests run) records nothing.
set(NK_DIRS_FILE "$ENV{NK_INSTALL_DIRS_FILE}")
if(NK_DIRS_FILE STREQUAL "")
  return()
endif()
set(_root "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
set(_new)
foreach(_sub IN LISTS NK_INSTALL_SUBDIRS)
  if(IS_ABSOLUTE "${_sub}")
    set(_dir "$ENV{DESTDIR}${_sub}")
  else()
    set(_dir "${_root}/${_sub}")
  endif()
  while(NOT EXISTS "${_dir}" AND NOT _dir STREQUAL "/" AND
        NOT _dir STREQUAL "")
    list(APPEND _new "${_dir}")
    get_filename_component(_dir "${_dir}" DIRECTORY)
  endwhile()
endforeach()
if(_new)
  list(REMOVE_DUPLICATES _new)
  list(JOIN _new "\n" _lines)
  file(APPEND "${NK_DIRS_FILE}" "${_lines}\n")
endif()
