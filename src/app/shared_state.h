#pragma once
// Builds what every worker shares (proxy::Shared) from a configuration snapshot: server TLS, client-certificate
// stores, upstream TLS contexts, target health, and the sign-in services. At startup everything is new; a reload
// builds the configuration-dependent parts anew and keeps the sign-in services (store, IdP client, directory,
// refresh thread) of the running one, with each target's health carried over.
#include <memory>

#include "config/snapshot.h"
#include "proxy/worker_context.h"

namespace postern::app {

// Throws std::runtime_error (or store::StoreStartupError) with a readable message when something cannot be built.
[[nodiscard]] std::shared_ptr<const proxy::Shared> build_shared(config::SnapshotPtr snapshot,
                                                               const proxy::Shared* running = nullptr);

}  // namespace postern::app
