import CSystemCalls
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// File operations whose effects survive a crash: data and directory entries are fsynced, or,
/// for many files at once, written plainly and then flushed together with `syncFileSystem`.
public enum DurableFiles {
    /// Writes `bytes` to a new file at `path` (which must not be live: nobody reads it yet)
    /// and fsyncs it.
    public static func write(_ bytes: some ContiguousBytes, to path: String) throws(FileError) {
        try write(bytes, to: path, sync: true)
    }

    /// Writes `bytes` to a new file at `path` without waiting for the disk; a later
    /// `syncFileSystem` makes it durable.
    public static func writeUnsynced(_ bytes: some ContiguousBytes, to path: String) throws(FileError) {
        try write(bytes, to: path, sync: false)
    }

    /// Flushes everything written to the file system holding `path`: one call instead of an
    /// fsync per file and per directory.
    public static func syncFileSystem(containing path: String) throws(FileError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileError(path: path, operation: "open", code: errno) }
        defer { close(descriptor) }
        guard syncfs(descriptor) == 0 else {
            throw FileError(path: path, operation: "sync the file system", code: errno)
        }
    }

    /// The bytes an unprivileged writer can still put on the file system holding `path`.
    public static func availableBytes(onFileSystemOf path: String) -> Int? {
        var information = statvfs()
        guard statvfs(path, &information) == 0 else { return nil }
        return Int(information.f_bavail) * Int(information.f_frsize)
    }

    private static func write(_ bytes: some ContiguousBytes, to path: String, sync: Bool) throws(FileError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileError(path: path, operation: "create", code: errno) }
        defer { close(descriptor) }
        let failure = bytes.withUnsafeBytes { append($0, to: descriptor) }
        if let failure { throw FileError(path: path, operation: "write", code: failure) }
        guard !sync || fsync(descriptor) == 0 else { throw FileError(path: path, operation: "fsync", code: errno) }
    }

    /// Writes `bytes` beside `path` and renames them into place: readers see the old file or
    /// the new one, never a part.
    public static func replace(_ path: String, with bytes: some ContiguousBytes) throws(FileError) {
        let temporary = path + ".tmp-\(getpid())"
        try write(bytes, to: temporary)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw FileError(path: path, operation: "rename into place", code: code)
        }
        try syncDirectory(containing: path)
    }

    /// A new file, open for writing, that has no name yet: it lives on the file system of
    /// `directory` and gets its name from `link(_:to:)` once written, so nobody ever sees it
    /// half written and a crash leaves nothing behind. Nil where the file system cannot make
    /// one.
    public static func openUnnamed(in directory: String) throws(FileError) -> Int32? {
        let descriptor = depot_open_unnamed(directory, 0o644)
        if descriptor >= 0 { return descriptor }
        if errno == EOPNOTSUPP || errno == EISDIR { return nil }
        throw FileError(path: directory, operation: "create a file in", code: errno)
    }

    /// Gives the open file a name, never replacing another file: false if `path` exists.
    public static func link(_ descriptor: Int32, to path: String) throws(FileError) -> Bool {
        if depot_link_descriptor(descriptor, path) == 0 { return true }
        if errno == EEXIST { return false }
        throw FileError(path: path, operation: "create", code: errno)
    }

    /// Writes all of `buffer` to an open file; returns the errno of a failure, or nil.
    public static func append(_ buffer: UnsafeRawBufferPointer, to descriptor: Int32) -> Int32? {
        var offset = 0
        while offset < buffer.count {
            let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return nil
    }

    public static func syncDirectory(_ path: String) throws(FileError) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileError(path: path, operation: "open directory", code: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw FileError(path: path, operation: "fsync directory", code: errno) }
    }

    public static func syncDirectory(containing path: String) throws(FileError) {
        try syncDirectory((path as NSString).deletingLastPathComponent)
    }

    /// Creates a directory and any missing parents; an existing one is fine. Returns the
    /// directories it created, parents first.
    @discardableResult
    public static func makeDirectory(_ path: String) throws(FileError) -> [String] {
        if mkdir(path, 0o755) == 0 { return [path] }
        if errno == EEXIST { return [] }
        guard errno == ENOENT else { throw FileError(path: path, operation: "create directory", code: errno) }
        let parent = (path as NSString).deletingLastPathComponent
        guard !parent.isEmpty, parent != path else {
            throw FileError(path: path, operation: "create directory", code: ENOENT)
        }
        let created = try makeDirectory(parent)
        if mkdir(path, 0o755) == 0 { return created + [path] }
        guard errno == EEXIST else { throw FileError(path: path, operation: "create directory", code: errno) }
        return created
    }

    /// Points the symbolic link at `path` to `target` in one step (a new link renamed over it).
    public static func switchSymbolicLink(_ path: String, to target: String) throws(FileError) {
        let temporary = path + ".new-\(getpid())"
        unlink(temporary)
        guard symlink(target, temporary) == 0 else {
            throw FileError(path: temporary, operation: "create symbolic link", code: errno)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw FileError(path: path, operation: "switch symbolic link", code: code)
        }
        try syncDirectory(containing: path)
    }

    public static func symbolicLinkTarget(_ path: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: path)
    }

    public static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }
}

/// A file operation that failed, with the system's reason.
public struct FileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var code: Int32
    public var detail: String?

    public init(path: String, operation: String, code: Int32, detail: String? = nil) {
        self.path = path
        self.operation = operation
        self.code = code
        self.detail = detail
    }

    public var description: String {
        let text = "\(path): cannot \(operation): " + (detail ?? String(cString: strerror(code)))
        return code == ENOSPC || code == EDQUOT ? "\(text) (\(Self.fileSystemFullAdvice))" : text
    }

    /// What to do when a write fails for want of space.
    public static let fileSystemFullAdvice = "the file system is full: free some space, then run the command again"
}
