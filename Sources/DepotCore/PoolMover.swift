import AptRepository
import Dispatch
import Foundation

/// Moves received files into the pool on a thread of its own, in the order given: a
/// directory and a rename per new file are most of a large push's cost, and this way they
/// overlap the transaction's row writes instead of following them.
final class PoolMover: @unchecked Sendable {
    private let queue = DispatchQueue(label: "depot.pool-mover")
    // Touched only on `queue`.
    private var moved: [String] = []
    private var createdDirectories: [String] = []
    private var failure: FileError?

    /// Queues the move of `temporaryPath` to `destination`, creating its directory.
    func move(_ temporaryPath: String, to destination: String) {
        queue.async {
            guard self.failure == nil else { return }
            do throws(FileError) {
                self.createdDirectories += try DurableFiles.makeDirectory(
                    (destination as NSString).deletingLastPathComponent)
                guard rename(temporaryPath, destination) == 0 else {
                    throw FileError(path: destination, operation: "move into the pool", code: errno)
                }
                self.moved.append(destination)
            } catch {
                self.failure = error
            }
        }
    }

    /// Waits for the queued moves; throws the first that failed.
    func finish() throws(FileError) {
        if let failure = queue.sync(execute: { self.failure }) { throw failure }
    }

    /// Waits for the queued moves and deletes the files they put into the pool and the
    /// directories made for them.
    func undo() {
        let (files, directories) = queue.sync { (moved, createdDirectories) }
        for path in files { unlink(path) }
        for path in directories.reversed() { rmdir(path) }
    }

    var movedAny: Bool { queue.sync { !moved.isEmpty } }
}
