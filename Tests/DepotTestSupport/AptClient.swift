import Foundation

/// The real `apt-get` and `apt-cache`, confined to a private directory: their own sources
/// list, state, cache and a dpkg status of its own (empty, or with `installed` packages). The
/// machine's `/etc/apt/apt.conf.d` is never read (`APT_CONFIG` names a file of our own that
/// empties `Dir::Etc::Parts`).
public struct AptClient: Sendable {
    public let directory: URL

    /// `installed`: name and version of packages the dpkg status says are installed.
    public init(sources: [String], architecture: String = "amd64", installed: [(String, String)] = []) throws {
        directory = try TestSupport.makeTemporaryDirectory("apt")
        let fileManager = FileManager.default
        for folder in [
            "etc/apt.conf.d", "etc/preferences.d", "etc/sources.list.d", "etc/trusted.gpg.d", "state/lists/partial",
            "cache/archives/partial", "log", "downloads",
        ] {
            try fileManager.createDirectory(
                at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        let status = installed.map { name, version in
            """
            Package: \(name)
            Status: install ok installed
            Priority: optional
            Architecture: \(architecture)
            Version: \(version)
            Maintainer: Depot tests <tests@example.org>
            Description: installed for a test


            """
        }
        try Data(status.joined().utf8).write(to: directory.appendingPathComponent("status"))
        try (sources.joined(separator: "\n") + "\n").write(
            to: directory.appendingPathComponent("etc/sources.list"), atomically: true, encoding: .utf8)
        let root = directory.path
        let configuration = """
            Dir::State "\(root)/state";
            Dir::State::status "\(root)/status";
            Dir::Cache "\(root)/cache";
            Dir::Log "\(root)/log";
            Dir::Etc "\(root)/etc";
            Dir::Etc::sourcelist "\(root)/etc/sources.list";
            Dir::Etc::sourceparts "\(root)/etc/sources.list.d";
            Dir::Etc::Parts "\(root)/etc/apt.conf.d";
            Dir::Etc::preferencesparts "\(root)/etc/preferences.d";
            Dir::Etc::trustedparts "\(root)/etc/trusted.gpg.d";
            Dir::Etc::trusted "\(root)/etc/trusted.gpg";
            APT::Architecture "\(architecture)";
            APT::Architectures { "\(architecture)"; };
            APT::Sandbox::User "root";
            Debug::NoLocking "true";
            Acquire::Languages "none";
            Acquire::Retries "0";
            Acquire::http::Proxy "false";

            """
        try configuration.write(to: directory.appendingPathComponent("apt.conf"), atomically: true, encoding: .utf8)
    }

    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["APT_CONFIG"] = directory.appendingPathComponent("apt.conf").path
        environment["DEBIAN_FRONTEND"] = "noninteractive"
        environment["LC_ALL"] = "C"
        // apt takes it for a reproducible build and then ignores phased updates.
        environment["SOURCE_DATE_EPOCH"] = nil
        return environment
    }

    /// Runs `apt-get` (or another apt program) with this client's configuration.
    @discardableResult
    public func run(_ arguments: [String], program: String = "apt-get", in folder: URL? = nil) throws
        -> TestSupport.ProcessResult
    {
        var command = "cd '\((folder ?? directory).path)' && exec \(program)"
        for argument in arguments { command += " '\(argument)'" }
        return try TestSupport.run("sh", ["-c", command], environment: environment)
    }

    /// `apt-cache policy`'s candidate version of a package, or nil.
    public func candidate(_ package: String) throws -> String? {
        let output = try run(["policy", package], program: "apt-cache").text
        return output.split(separator: "\n").first { $0.contains("Candidate:") }
            .map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) }
            .flatMap { $0 == "(none)" ? nil : $0 }
    }

    public var downloads: URL { directory.appendingPathComponent("downloads") }

    public func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// A static HTTP server on 127.0.0.1 (Python's http.server) serving a folder, until stopped.
/// It stands in for `depot serve` until that exists.
public final class StaticHTTPServer: @unchecked Sendable {
    public let port: Int
    private let process: Process

    private let scratch: URL
    private let requestLog: URL

    public init(serving folder: String) throws {
        scratch = try TestSupport.makeTemporaryDirectory("http")
        let log = scratch.appendingPathComponent("log")
        requestLog = scratch.appendingPathComponent("requests")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        FileManager.default.createFile(atPath: requestLog.path, contents: nil)
        process = Process()
        // Debian's own python3, not a wrapper (pyenv's shim) that a signal would not pass through.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", folder, "0"]
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = try FileHandle(forWritingTo: requestLog)
        try process.run()
        // It prints "Serving HTTP on 127.0.0.1 port 43123 (http://127.0.0.1:43123/) ...".
        var text = ""
        for _ in 0..<200 {
            text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if text.contains("\n") { break }
            usleep(25_000)
        }
        guard let range = text.range(of: "port "), let port = Int(text[range.upperBound...].prefix { $0.isNumber })
        else {
            process.terminate()
            throw TestSupportError("the HTTP server did not start: \(text)")
        }
        self.port = port
    }

    public var url: String { "http://127.0.0.1:\(port)/" }

    /// The paths clients asked for so far (the server logs each request on stderr).
    public func requestedPaths() -> [String] {
        let text = (try? String(contentsOf: requestLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let start = line.range(of: "\"GET ")?.upperBound ?? line.range(of: "\"HEAD ")?.upperBound else {
                return nil
            }
            return String(line[start...].prefix { $0 != " " })
        }
    }

    /// Kills the server. SIGKILL, because children spawned from a Dispatch worker thread
    /// inherit its signal mask, in which SIGTERM is blocked.
    public func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { stop() }
        try? FileManager.default.removeItem(at: scratch)
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
