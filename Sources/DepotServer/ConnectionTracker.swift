import Foundation
import NIOCore
import Synchronization

/// What one client's connections may hold of the server.
public struct ConnectionLimits: Sendable {
    /// Connections open at once. When all are taken, a new one replaces the connection that
    /// has waited longest for a request; when every one is busy with a request, it is closed.
    public var maximumConnections: Int
    /// How long a connection may wait for a whole request head (after it opens, or after
    /// the previous answer), and how long a request body may pause.
    public var requestTimeout: Duration

    public init(maximumConnections: Int, requestTimeout: Duration) {
        self.maximumConnections = maximumConnections
        self.requestTimeout = requestTimeout
    }

    /// Half of the descriptors the process may open (raised to the hard limit), less a
    /// reserve: every answer from a file holds that file open too, and the store, the
    /// keyring and the log need theirs.
    public static func standard() -> ConnectionLimits {
        let descriptorLimit = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        getrlimit(descriptorLimit, &limit)
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(descriptorLimit, &limit)
            getrlimit(descriptorLimit, &limit)
        }
        let descriptors = Int(clamping: limit.rlim_cur)
        return ConnectionLimits(
            maximumConnections: max(16, (descriptors - 64) / 2), requestTimeout: .seconds(30))
    }
}

/// The open connections of a server, and which of them wait for a request: so that a crowd
/// of connections that never send one (slowloris) cannot shut everyone else out.
final class ConnectionTracker: Sendable {
    let limits: ConnectionLimits

    private struct Entry {
        let channel: any Channel
        /// When it started waiting for a request head; nil while a request is under way.
        var waitingSince: NIODeadline?
        /// Whether the client closed its side: it will read no answer (nginx's 499).
        var clientClosed = false
    }

    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])

    init(limits: ConnectionLimits) {
        self.limits = limits
    }

    /// Takes in a new connection, making room by closing the one that has waited longest for
    /// a request if all places are taken; false (and nothing recorded) when every connection
    /// is busy answering.
    func admit(_ channel: any Channel) -> Bool {
        let key = ObjectIdentifier(channel)
        let (admitted, evicted) = entries.withLock { entries -> (Bool, (any Channel)?) in
            var evicted: (any Channel)?
            if entries.count >= limits.maximumConnections {
                let idlest = entries.filter { $0.value.waitingSince != nil }
                    .min { $0.value.waitingSince! < $1.value.waitingSince! }
                guard let idlest else { return (false, nil) }
                entries[idlest.key] = nil
                evicted = idlest.value.channel
            }
            entries[key] = Entry(channel: channel, waitingSince: .now())
            return (true, evicted)
        }
        evicted?.close(promise: nil)
        if admitted {
            channel.closeFuture.whenComplete { _ in self.entries.withLock { _ = $0.removeValue(forKey: key) } }
        }
        return admitted
    }

    /// Records that the client of `channel` closed its side of the connection.
    func setClientClosed(_ channel: any Channel) {
        entries.withLock { $0[ObjectIdentifier(channel)]?.clientClosed = true }
    }

    /// Whether the client of `channel` is gone: it closed its side, or the connection ended.
    func isClientGone(_ channel: any Channel) -> Bool {
        entries.withLock { $0[ObjectIdentifier(channel)]?.clientClosed ?? true }
    }

    /// Records that `channel` waits for a request (or, with false, that one is under way).
    func setWaiting(_ channel: any Channel, _ waiting: Bool) {
        let key = ObjectIdentifier(channel)
        entries.withLock { entries in
            guard entries[key] != nil else { return }
            entries[key]!.waitingSince = waiting ? .now() : nil
        }
    }
}
