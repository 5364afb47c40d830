#pragma once
// systemd's notify protocol (sd_notify(3)): one datagram to the unix socket named by $NOTIFY_SOCKET. Written here
// rather than linking libsystemd for these few lines; a process not started by systemd (no NOTIFY_SOCKET) sends
// nothing. Never blocks: the socket is non-blocking and a lost datagram is only logged.
#include <string_view>

namespace postern::ops {

// Sends `state` ("READY=1", "RELOADING=1\nMONOTONIC_USEC=…", "STOPPING=1", "STATUS=…"). Returns false when there is
// no notify socket or the send failed.
bool systemd_notify(std::string_view state);

// "RELOADING=1" with the MONOTONIC_USEC systemd 253+ asks for (older ones ignore it).
bool systemd_notify_reloading();

}  // namespace postern::ops
