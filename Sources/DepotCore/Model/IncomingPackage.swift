import AptRepository
import DebianFormat
import Foundation
import Synchronization

/// A package read into the repository, hashed and checked: already at its pool path, or
/// waiting in `.depot/incoming/` for the push's transaction to decide.
struct IncomingPackage: Sendable {
    enum Location: Sendable {
        /// At its pool path, named there by this push; `PoolMover` deletes it if the push fails.
        case pool
        /// At this temporary path in `.depot/incoming/`.
        case incoming(String)
    }

    var name: String
    var location: Location
    var deb: DebFile

    /// Deletes the temporary copy, if there is one.
    func discard() {
        if case .incoming(let path) = location { unlink(path) }
    }

    /// A name in `.depot/incoming/` that tells gc which process the file belongs to: the pid,
    /// a token drawn once per process (so a dead process's leftovers never block a live one
    /// that got the same pid), and a counter.
    static func temporaryFileName() -> String {
        "\(processPrefix)-\(counter.add(1, ordering: .relaxed).newValue).deb"
    }
    private static let processPrefix = "\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    private static let counter = Atomic<Int>(0)

    /// The process that received a file, from its name; nil for a name Depot did not make.
    static func processID(fromFileName name: String) -> pid_t? {
        name.split(separator: "-", maxSplits: 1).first.flatMap { pid_t($0) }
    }
}
