import AptRepository
import DebianFormat
import Dispatch
import Foundation
import Synchronization

/// Puts a push's files into the pool and remembers what it put there, so that a push that
/// fails leaves the pool as it was.
///
/// Files read by the push itself are named at their pool paths as they are read, on every
/// core (`place`); the others (an upload, or a file whose pool path was taken) are moved on a
/// thread of its own while the transaction writes rows (`move`).
final class PoolMover: PoolWriter, @unchecked Sendable {
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

    /// Queues the move of `temporaryPath` to `poolPath`, creating its directory. A name in
    /// the pool is never taken here: the push found no record of it.
    func move(_ temporaryPath: String, to poolPath: String, checksums: Checksums, replaceable: Bool) {
        let destination = publicDirectory + "/" + poolPath
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
    func place(_ descriptor: Int32, at poolPath: String) throws(FileError) -> Bool {
        let destination = publicDirectory + "/" + poolPath
        let created = try makeDirectory(of: destination)
        if !created.isEmpty { queue.sync { createdDirectories += created } }
        guard try DurableFiles.link(descriptor, to: destination) else { return false }
        queue.sync { moved.append(destination) }
        return true
    }

    /// Files named in the pool while reading start on their way to the disk while the
    /// transaction writes rows: a flush of the file system rather than an fsync per file.
    func flushPlaced() -> BackgroundTask<Void>? {
        queue.sync { !moved.isEmpty } ? flushFileSystem() : nil
    }

    /// Waits for the queued moves; throws the first that failed. The files moved reach the
    /// disk (the flush returned) before the transaction that references them commits.
    func finish() throws -> BackgroundTask<Void>? {
        let (failure, renamed) = queue.sync { (self.failure, self.renamed) }
        if let failure { throw DepotError.file(failure) }
        return renamed ? flushFileSystem() : nil
    }

    /// Flushes the file system of `public/` on another thread.
    private func flushFileSystem() -> BackgroundTask<Void> {
        BackgroundTask { [publicDirectory] in
            try Result { () throws(FileError) in
                try DurableFiles.syncFileSystem(containing: publicDirectory)
            }.mapError(DepotError.file).get()
        }
    }

    /// Waits for the queued moves and deletes the files they put into the pool and the
    /// directories made for them.
    func undo() {
        let (files, directories) = queue.sync { (moved, createdDirectories) }
        for path in files { unlink(path) }
        // Deepest first: directories made on several threads are recorded in no useful order.
        for path in directories.sorted(by: { $0.utf8.count > $1.utf8.count }) { rmdir(path) }
    }
}
