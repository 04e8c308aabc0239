import Dispatch
import Foundation

/// Paths and processes shared by the test targets.
public enum TestSupport {
    /// The package's root folder, found from this file's place in it.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func fixture(_ relativePath: String) -> String {
        packageRoot.appendingPathComponent("Fixtures").appendingPathComponent(relativePath).path
    }

    public static func fixtures(in folder: String) -> [String] {
        let directory = packageRoot.appendingPathComponent("Fixtures").appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".deb") }.sorted().map { directory.appendingPathComponent($0).path }
    }

    public struct ProcessResult: Sendable {
        public var status: Int32
        public var standardOutput: Data
        public var standardError: String
        public var text: String { String(decoding: standardOutput, as: UTF8.self) }
    }

    /// Runs a program to completion, collecting its output; `input` goes to its stdin.
    ///
    /// Output goes through temporary files, not pipes: tests run in parallel, and a child
    /// started by one test inherits every open descriptor of the process, so a long-lived
    /// child (an HTTP server) would keep another test's pipe open and its reader waiting for
    /// an end that never comes.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil
    ) throws -> ProcessResult {
        let scratch = try makeTemporaryDirectory("run")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outputURL = scratch.appendingPathComponent("stdout")
        let errorURL = scratch.appendingPathComponent("stderr")
        let inputURL = scratch.appendingPathComponent("stdin")
        try (input ?? Data()).write(to: inputURL)
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL)
        let error = try FileHandle(forWritingTo: errorURL)
        let standardInput = try FileHandle(forReadingFrom: inputURL)
        defer {
            try? output.close()
            try? error.close()
            try? standardInput.close()
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
        process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
        if let environment { process.environment = environment }
        process.standardOutput = output
        process.standardError = error
        process.standardInput = standardInput
        try process.run()
        process.waitUntilExit()
        return ProcessResult(
            status: process.terminationStatus, standardOutput: try Data(contentsOf: outputURL),
            standardError: String(decoding: try Data(contentsOf: errorURL), as: UTF8.self))
    }

    /// Whether a program can be found on PATH.
    public static func hasProgram(_ name: String) -> Bool {
        (try? run("sh", ["-c", "command -v \(name)"]).status) == 0
    }

    /// Debian's main index as apt keeps it on this machine (lz4-compressed; apt-helper
    /// prints it plain), or nil when apt has no lists here.
    public static let debianIndexPath: String? = {
        let lists = "/var/lib/apt/lists"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: lists)) ?? []
        let indices = names.filter { $0.contains("_binary-") && $0.contains("_Packages") }
            .map { "\(lists)/\($0)" }
        return indices.max { fileSize($0) < fileSize($1) }
    }()

    public static func debianIndex() throws -> Data? {
        guard let path = debianIndexPath else { return nil }
        if path.hasSuffix("_Packages") { return FileManager.default.contents(atPath: path) }
        let result = try run("/usr/lib/apt/apt-helper", ["cat-file", path])
        return result.status == 0 ? result.standardOutput : nil
    }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// A fresh directory under the system's temporary folder, short enough for gpg-agent's
    /// socket paths.
    public static func makeTemporaryDirectory(_ prefix: String = "depot") throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A repository made by the real `depot` binary in a temporary folder, removed (and its
/// gpg-agent stopped) by `remove()`.
public struct ScratchRepository {
    public let root: URL
    /// The environment every `depot` command of this repository runs in (nil: the tests').
    public let environment: [String: String]?

    /// Runs `depot init` with the given extra options.
    public init(_ initArguments: [String] = [], environment: [String: String]? = nil) throws {
        try self.init(at: try TestSupport.makeTemporaryDirectory("repo"), initArguments, environment: environment)
    }

    /// Runs `depot init` in `root`, an empty or missing folder, with the given extra options.
    public init(at root: URL, _ initArguments: [String] = [], environment: [String: String]? = nil) throws {
        self.root = root
        self.environment = environment
        let result = try depot(["init"] + initArguments)
        guard result.status == 0 else { throw TestSupportError("depot init failed: \(result.standardError)") }
    }

    /// The repository already in `root`, its commands run in `environment`.
    public init(existing root: URL, environment: [String: String]? = nil) {
        self.root = root
        self.environment = environment
    }

    public var publicDirectory: String { root.appendingPathComponent("public").path }

    /// The repository's public key, as `public/archive-key.asc` holds it.
    public var archiveKey: String { root.appendingPathComponent("public/archive-key.asc").path }

    /// A private apt client of `distribution` served by `server`, trusting `key` (by default
    /// this repository's own).
    public func aptClient(_ distribution: String, through server: StaticHTTPServer, trusting key: String? = nil) throws
        -> AptClient
    {
        try aptClient(distribution, at: server.url, trusting: key)
    }

    /// A private apt client of `distribution` at `url`.
    public func aptClient(_ distribution: String, at url: String, trusting key: String? = nil) throws -> AptClient {
        try AptClient(sources: ["deb [signed-by=\(key ?? archiveKey)] \(url) \(distribution) main"])
    }

    /// Runs `depot --root ROOT ARGUMENTS...`.
    @discardableResult
    public func depot(_ arguments: [String]) throws -> TestSupport.ProcessResult {
        try TestSupport.run(TestSupport.depotExecutable, ["--root", root.path] + arguments, environment: environment)
    }

    /// The content of every file below the root (symbolic links by their target, folders by
    /// their presence), by path: two equal snapshots mean nothing changed.
    public func snapshot() throws -> [String: Data] {
        var digest: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        while let relative = enumerator?.nextObject() as? String {
            let path = root.appendingPathComponent(relative).path
            // gpg-agent sockets, the lock and SQLite's shared-memory index change on every read;
            // an empty write-ahead log (left where SQLite could not make that index) holds nothing.
            if relative.hasPrefix(".depot/gnupg") || relative == ".depot/lock" || relative.hasSuffix("-shm")
                || (relative.hasSuffix("-wal") && TestSupport.fileSize(path) == 0)
            {
                continue
            }
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
                digest[relative] = Data(("-> " + target).utf8)
                continue
            }
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                digest[relative] = Data("directory".utf8)
            } else if let data = FileManager.default.contents(atPath: path) {
                digest[relative] = data
            }
        }
        return digest
    }

    public func remove() {
        _ = try? TestSupport.run(
            "gpgconf", ["--homedir", root.appendingPathComponent(".depot/gnupg").path, "--kill", "gpg-agent"])
        try? FileManager.default.removeItem(at: root)
    }
}

extension TestSupport {
    /// The `depot` executable built beside the test bundle.
    public static let depotExecutable: String = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [beside, packageRoot.appendingPathComponent(".build/debug")] {
            let path = candidate.appendingPathComponent("depot").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return packageRoot.appendingPathComponent(".build/debug/depot").path
    }()
}

extension TestSupport {
    /// Whether the `python3` on PATH can import a module (from PyPI, as `.ci/run` installs it).
    public static func pythonHas(_ module: String) -> Bool {
        (try? run("python3", ["-c", "import \(module)"]).status) == 0
    }
}
