# Debian packages (CPack DEB), built by ./scripts/package.sh from the build tree:
#
#   autovibe-agent       the agent, its systemd unit, /etc/autovibe/agent.toml (a conffile), its
#                        man page; what every worker installs (Packer image, cloud-init)
#   autovibe-controller  the controller, its unit, /etc/autovibe/controller.toml, the templates
#                        its provisioners render (/usr/share/autovibe/templates), its man page
#   autovibe             the command-line client and its man page
#
# Three packages rather than one: a worker needs the agent alone, and the controller links
# libvirt and libssh2 that a worker has no use for.
#
# Installing is for packaging only (install rules do not build anything: package.sh builds the
# programs and the `package_files` target first). Paths are Debian's: programs in /usr/bin, units in
# /lib/systemd/system, configs in /etc/autovibe, state in /var/lib/autovibe (made by postinst).

set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)
set(AV_DEB_MAINTAINER "autovibe maintainers <autovibe@example.org>"
    CACHE STRING "the Maintainer field of the .deb packages")
set(AV_PKG_SRC ${CMAKE_SOURCE_DIR}/packaging)
set(AV_PKG_OUT ${CMAKE_BINARY_DIR}/packaging)

# Man pages from each program's --help (help2man), with the sections in packaging/man/*.h2m.
# help2man runs the program by name, so the page shows `autovibe-agent`, not a build path.
find_program(AV_HELP2MAN help2man)
set(AV_MAN_PAGES)
function(av_man_page target section)
  set(out ${AV_PKG_OUT}/man/${target}.${section})
  set(include ${AV_PKG_SRC}/man/${target}.h2m)
  add_custom_command(
    OUTPUT ${out}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${AV_PKG_OUT}/man
    COMMAND ${CMAKE_COMMAND} -E env PATH=$<TARGET_FILE_DIR:${target}>:/usr/bin:/bin
            ${AV_HELP2MAN} --no-info --section=${section} --include=${include}
            --source=autovibe --manual=autovibe --output=${out} ${target}
    COMMAND gzip -9nf ${out}
    DEPENDS ${target} ${include}
    COMMENT "Writing the man page of ${target}"
    VERBATIM)
  set(AV_MAN_PAGES ${AV_MAN_PAGES} ${out}.gz PARENT_SCOPE)
endfunction()
av_man_page(autovibe-agent 8)
av_man_page(autovibe-controller 8)
av_man_page(autovibe 1)
configure_file(${AV_PKG_SRC}/deb/changelog.in ${AV_PKG_OUT}/changelog @ONLY)
add_custom_command(OUTPUT ${AV_PKG_OUT}/changelog.gz
                   COMMAND gzip -9nkf ${AV_PKG_OUT}/changelog
                   DEPENDS ${AV_PKG_SRC}/deb/changelog.in)
# What the packages hold besides the programs: ./scripts/package.sh builds it.
add_custom_target(package_files DEPENDS ${AV_MAN_PAGES} ${AV_PKG_OUT}/changelog.gz)

# The maintainer scripts of a daemon's package, filled in from packaging/deb/*.in.
function(av_deb_scripts package config data_dir state purge_state)
  set(PACKAGE ${package})
  set(CONFIG ${config})
  set(DATA_DIR ${data_dir})
  set(STATE ${state})
  set(PURGE_STATE ${purge_state})
  foreach(script postinst prerm postrm)
    configure_file(${AV_PKG_SRC}/deb/${script}.in ${AV_PKG_OUT}/${package}/${script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                    WORLD_READ WORLD_EXECUTE)
  endforeach()
  file(WRITE ${AV_PKG_OUT}/${package}/conffiles "/etc/autovibe/${config}\n")
endfunction()
av_deb_scripts(autovibe-agent agent.toml /var/lib/autovibe/agent
               "its machine id, bus user, checkpoints and workspaces"
               "  # A purge forgets the machine: its id, bus user, checkpoints and workspaces.\n  rm -rf /var/lib/autovibe/agent\n  rmdir /var/lib/autovibe 2>/dev/null || true")
av_deb_scripts(autovibe-controller controller.toml /var/lib/autovibe/controller
               "its database and admin token"
               "  # The database (ledger, audit log) is kept: a purge must not lose it.\n  :")

# The agent's unit and config as a package installs them: the binary in /usr/bin, and a config
# template that names no machine (each worker takes its host name) and no labels.
file(READ ${CMAKE_SOURCE_DIR}/templates/systemd/autovibe-agent.service AV_AGENT_UNIT)
string(REGEX REPLACE "^(#[^\n]*\n)+" "# The autovibe agent, as the autovibe-agent Debian package installs it.\n"
       AV_AGENT_UNIT "${AV_AGENT_UNIT}")
string(REPLACE "/opt/autovibe/bin/autovibe-agent" "/usr/bin/autovibe-agent" AV_AGENT_UNIT
       "${AV_AGENT_UNIT}")
string(REPLACE "Documentation=" "Documentation=man:autovibe-agent(8) " AV_AGENT_UNIT
       "${AV_AGENT_UNIT}")
file(CONFIGURE OUTPUT ${AV_PKG_OUT}/autovibe-agent/autovibe-agent.service
     CONTENT "${AV_AGENT_UNIT}")
file(READ ${CMAKE_SOURCE_DIR}/templates/config/agent.toml AV_AGENT_CONFIG)
string(REGEX REPLACE "\nname = \"[^\"]*\"" "\n# name = \"worker-1\"" AV_AGENT_CONFIG
       "${AV_AGENT_CONFIG}")
string(REGEX REPLACE "\n(pool|zone) = " "\n# \\1 = " AV_AGENT_CONFIG "${AV_AGENT_CONFIG}")
file(CONFIGURE OUTPUT ${AV_PKG_OUT}/autovibe-agent/agent.toml CONTENT "${AV_AGENT_CONFIG}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${CMAKE_SOURCE_DIR}/templates/systemd/autovibe-agent.service
             ${CMAKE_SOURCE_DIR}/templates/config/agent.toml)

# Per package: the program, its man page, the copyright and changelog, lintian's overrides.
function(av_deb_common component target section)
  install(TARGETS ${target} RUNTIME DESTINATION bin COMPONENT ${component})
  install(FILES ${AV_PKG_OUT}/man/${target}.${section}.gz DESTINATION share/man/man${section}
          COMPONENT ${component})
  install(FILES ${AV_PKG_SRC}/deb/copyright DESTINATION share/doc/${target}
          COMPONENT ${component})
  install(FILES ${AV_PKG_OUT}/changelog.gz DESTINATION share/doc/${target}
          COMPONENT ${component})
  if(EXISTS ${AV_PKG_SRC}/deb/${target}.lintian-overrides)
    install(FILES ${AV_PKG_SRC}/deb/${target}.lintian-overrides
            DESTINATION share/lintian/overrides RENAME ${target} COMPONENT ${component})
  endif()
endfunction()

av_deb_common(agent autovibe-agent 8)
install(FILES ${AV_PKG_OUT}/autovibe-agent/autovibe-agent.service
        DESTINATION /lib/systemd/system COMPONENT agent)
install(FILES ${AV_PKG_OUT}/autovibe-agent/agent.toml DESTINATION /etc/autovibe
        PERMISSIONS OWNER_READ OWNER_WRITE COMPONENT agent)

av_deb_common(controller autovibe-controller 8)
install(FILES ${CMAKE_SOURCE_DIR}/templates/systemd/autovibe-controller.service
        DESTINATION /lib/systemd/system COMPONENT controller)
install(FILES ${CMAKE_SOURCE_DIR}/templates/config/controller.toml DESTINATION /etc/autovibe
        PERMISSIONS OWNER_READ OWNER_WRITE COMPONENT controller)
# (templates/vm/ is the small VM image's, which scripts/build-vm-image.sh builds from a tree.)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/templates/ DESTINATION share/autovibe/templates
        USE_SOURCE_PERMISSIONS COMPONENT controller PATTERN vm EXCLUDE)

av_deb_common(cli autovibe 1)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME autovibe)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${AV_DEB_MAINTAINER})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL agent controller cli)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE https://github.com/autovibe/autovibe)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME autovibe-agent)
# bubblewrap boxes every task; git checks out task repositories.
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "bubblewrap, git")
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    ${AV_PKG_OUT}/autovibe-agent/postinst ${AV_PKG_OUT}/autovibe-agent/prerm
    ${AV_PKG_OUT}/autovibe-agent/postrm ${AV_PKG_OUT}/autovibe-agent/conffiles)
set(CPACK_DEBIAN_AGENT_DESCRIPTION
    "autovibe worker agent: runs metered coding tasks for an autovibe controller
The agent of an autovibe fleet. It reports the machine and the coding tools
on it (Claude Code, Codex, Aider) to the controller over a NATS bus, runs the
coding tasks the controller places on it, each boxed with bubblewrap, meters
every LLM API call the tools make through a local proxy that holds the task
inside its budget, and keeps checkpoints of the task workspaces.")

set(CPACK_DEBIAN_CONTROLLER_PACKAGE_NAME autovibe-controller)
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_RECOMMENDS "nats-server, autovibe")
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_SUGGESTS "autovibe-agent, docker.io, libvirt-daemon")
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_CONTROL_EXTRA
    ${AV_PKG_OUT}/autovibe-controller/postinst ${AV_PKG_OUT}/autovibe-controller/prerm
    ${AV_PKG_OUT}/autovibe-controller/postrm ${AV_PKG_OUT}/autovibe-controller/conffiles)
set(CPACK_DEBIAN_CONTROLLER_DESCRIPTION
    "autovibe controller: schedules coding agents onto a fleet inside budgets
The controller of an autovibe fleet. It schedules coding tasks (Claude Code,
Codex, Aider or any command) onto worker machines, enforces hard budgets
with leases, keeps the checkpoint tree, provisions and retires machines
(local, docker, libvirt, Proxmox, ssh) and serves an HTTP API and dashboard.
Its state is an SQLite database; it talks to the agents over NATS.")

set(CPACK_DEBIAN_CLI_PACKAGE_NAME autovibe)
set(CPACK_DEBIAN_CLI_DESCRIPTION
    "command-line client of the autovibe controller
The command-line client of the autovibe controller's HTTP API: machines,
projects, budgets, tasks and their logs and diffs, checkpoints, usage,
tokens, secrets, webhooks and the audit log, as tables or JSON.")

include(CPack)
