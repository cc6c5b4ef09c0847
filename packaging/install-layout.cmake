# Runs at install time (cmake --install, cpack): lays out the files whose location or content
# depends on the install prefix, which is only known then (`cmake --install --prefix P`,
# CPack's /usr). Inputs, set by packaging/CMakeLists.txt through install(CODE):
#   KW_SOURCE_DIR KW_STAGE_DIR KW_BINDIR KW_DATADIR KW_SYSCONFDIR KW_DOCDIR KW_SYSTEMD_UNITDIR
#   KW_HTTP_LISTEN KW_VERSION
# Paths follow GNUInstallDirs: with prefix /usr the configuration goes to /etc and the unit to
# /lib/systemd/system (Debian 12); with any other prefix P to P/etc and P/lib/systemd/system.

cmake_path(SET _prefix NORMALIZE "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "(.)/+$" "\\1" _prefix "${_prefix}")

function(kw_full out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  elseif(_prefix STREQUAL "/")
    set(${out} "/${dir}" PARENT_SCOPE)
  else()
    set(${out} "${_prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

kw_full(_bindir "${KW_BINDIR}")
kw_full(_datadir "${KW_DATADIR}")
kw_full(_docdir "${KW_DOCDIR}")
# GNUInstallDirs' special cases for SYSCONFDIR.
if(IS_ABSOLUTE "${KW_SYSCONFDIR}")
  set(_sysconfdir "${KW_SYSCONFDIR}")
elseif(_prefix STREQUAL "/usr" OR _prefix STREQUAL "/")
  set(_sysconfdir "/${KW_SYSCONFDIR}")
elseif(_prefix MATCHES "^/opt/")
  set(_sysconfdir "/${KW_SYSCONFDIR}${_prefix}")
else()
  set(_sysconfdir "${_prefix}/${KW_SYSCONFDIR}")
endif()
if(KW_SYSTEMD_UNITDIR)
  kw_full(_unitdir "${KW_SYSTEMD_UNITDIR}")
elseif(_prefix STREQUAL "/usr" OR _prefix STREQUAL "/")
  set(_unitdir "/lib/systemd/system")
else()
  set(_unitdir "${_prefix}/lib/systemd/system")
endif()

# Values substituted into kamwatch.yaml.in.
set(KW_SYSCONF_DIR "${_sysconfdir}")
set(KW_CONF_FILE "${_sysconfdir}/kamwatch/kamwatch.yaml")
set(KW_RULES_DIR "${_datadir}/kamwatch/rules")
set(KW_DOC_DIR "${_docdir}")

# Stage per destination, so that concurrent installs (a test's --prefix install and a cpack run)
# from one build tree do not overwrite each other's files.
string(MD5 _key "$ENV{DESTDIR}|${_prefix}")
set(_stage "${KW_STAGE_DIR}/${_key}")
file(REMOVE_RECURSE "${_stage}")
file(MAKE_DIRECTORY "${_stage}")

configure_file("${KW_SOURCE_DIR}/packaging/kamwatch.yaml.in" "${_stage}/kamwatch.yaml" @ONLY)

# The unit is deploy/systemd/kamwatch.service with the installed binary and config in ExecStart.
file(READ "${KW_SOURCE_DIR}/deploy/systemd/kamwatch.service" _unit)
set(_exec "ExecStart=/usr/bin/kamwatch run --config /etc/kamwatch/kamwatch.yaml")
string(FIND "${_unit}" "${_exec}\n" _at)
string(FIND "${_unit}" "[Unit]" _start)
if(_at EQUAL -1 OR _start EQUAL -1)
  message(FATAL_ERROR "deploy/systemd/kamwatch.service: no '[Unit]' or no line '${_exec}'; "
                      "update packaging/install-layout.cmake")
endif()
string(REPLACE "${_exec}\n" "ExecStart=${_bindir}/kamwatch run --config ${KW_CONF_FILE}\n"
       _unit "${_unit}")
string(SUBSTRING "${_unit}" ${_start} -1 _unit)
file(WRITE "${_stage}/kamwatch.service"
     "# kamwatch ${KW_VERSION} as a systemd service, installed with the program (docs/install.md).\n"
     "# Configuration: ${KW_CONF_FILE}\n"
     "# Rules: ${KW_RULES_DIR}; state: /var/lib/kamwatch.\n"
     "#   systemctl enable --now kamwatch\n"
     "#   systemctl reload kamwatch      # re-read the rules (SIGHUP); a bad rule set is refused\n"
     "${_unit}")

file(INSTALL DESTINATION "${_sysconfdir}/kamwatch" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
     FILES "${_stage}/kamwatch.yaml")
file(INSTALL DESTINATION "${_unitdir}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${_stage}/kamwatch.service")
file(REMOVE_RECURSE "${_stage}")
