import AptRepository
import Dispatch
import Foundation
import Synchronization

/// Puts a push's files into the pool and remembers what it put there, so that a push that
/// fails leaves the pool as it was.
///
/// Files read by the push itself are named at their pool paths as they are read, on every
/// core (`place`); the others (an upload, or a file whose pool path was taken) are moved on a
/// thread of its own while the transaction writes rows (`move`).
final class PoolMover: @unchecked Sendable {
    /// `public/`, where the pool is: nothing below it is written through a symbolic link.
    private let publicDirectory: String
    private let queue = DispatchQueue(label: "depot.pool-mover")
    /// Folders already found to be real folders, not links.
    private let checkedDirectories = Mutex<Set<String>>([])
    // Touched only on `queue`.
    private var moved: [String] = []
    private var createdDirectories: [String] = []
    private var failure: FileError?
    private var renamed = false

    init(publicDirectory: String) {
        self.publicDirectory = publicDirectory
    }

    /// Makes the folder of the pool file at `destination`, and makes sure that it and every
    /// folder above it up to `public/` is a real folder: a symbolic link planted in the pool
    /// would have a push write its files outside the served tree.
    private func makeDirectory(of destination: String) throws(FileError) -> [String] {
        let directory = (destination as NSString).deletingLastPathComponent
        if !checkedDirectories.withLock({ $0.contains(directory) }) {
            // Checked before anything is made, so that nothing is made through a link either.
            var path = publicDirectory
            for component in directory.dropFirst(publicDirectory.count).split(separator: "/") {
                path += "/" + component
                var status = stat()
                if lstat(path, &status) != 0 {
                    guard errno == ENOENT else { throw FileError(path: path, operation: "inspect", code: errno) }
                    break  // made below, as a folder
                }
                guard (status.st_mode & S_IFMT) == S_IFDIR else {
                    throw FileError(
                        path: path, operation: "write into the pool", code: ENOTDIR,
                        detail: "it is not a folder but a symbolic link or a file; replace it with a folder")
                }
            }
            checkedDirectories.withLock { _ = $0.insert(directory) }
        }
        return try DurableFiles.makeDirectory(directory)
    }

    /// Queues the move of `temporaryPath` to `destination`, creating its directory.
    func move(_ temporaryPath: String, to destination: String) {
        queue.async {
            guard self.failure == nil else { return }
            do throws(FileError) {
                self.createdDirectories += try self.makeDirectory(of: destination)
                guard rename(temporaryPath, destination) == 0 else {
                    throw FileError(path: destination, operation: "move into the pool", code: errno)
                }
                self.moved.append(destination)
                self.renamed = true
            } catch {
                self.failure = error
            }
        }
    }

    /// Names the written file `descriptor` `destination`, making its directory, unless that
    /// name is taken: then returns false and leaves the file unnamed.
    func place(_ descriptor: Int32, at destination: String) throws(FileError) -> Bool {
        let created = try makeDirectory(of: destination)
        if !created.isEmpty { queue.sync { createdDirectories += created } }
        guard try DurableFiles.link(descriptor, to: destination) else { return false }
        queue.sync { moved.append(destination) }
        return true
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
        // Deepest first: directories made on several threads are recorded in no useful order.
        for path in directories.sorted(by: { $0.utf8.count > $1.utf8.count }) { rmdir(path) }
    }

    /// Whether any file was put into the pool.
    var wroteAny: Bool { queue.sync { !moved.isEmpty } }

    /// Whether any file was moved into the pool (`move`) rather than named there as it was read.
    var movedAny: Bool { queue.sync { renamed } }
}
