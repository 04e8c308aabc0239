import Foundation

/// `depot serve` on a free port of 127.0.0.1, for one test.
public final class DepotServe: @unchecked Sendable {
    private let process: Process
    private let scratch: URL
    private let log: URL
    /// `http://127.0.0.1:PORT/`.
    public let url: String

    /// `port`: the port to listen on (default: one the kernel picks, above 32767).
    public init(root: URL, arguments: [String] = [], environment: [String: String]? = nil, port: Int = 0) throws {
        scratch = try TestSupport.makeTemporaryDirectory("serve")
        log = scratch.appendingPathComponent("log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: TestSupport.depotExecutable)
        process.arguments = ["--root", root.path, "serve", "--listen", "127.0.0.1:\(port)"] + arguments
        if let environment { process.environment = environment }
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        // It says "depot: serving ROOT on http://127.0.0.1:PORT/" once the port is open.
        var address: String?
        for _ in 0..<400 where address == nil {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: " on http://") {
                address = String(text[range.upperBound...].prefix { $0 != "/" })
            } else {
                usleep(25_000)
            }
        }
        guard let address else {
            kill(process.processIdentifier, SIGKILL)
            throw TestSupportError(
                "depot serve did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }
        url = "http://\(address)/"
    }

    deinit {
        if process.isRunning { stop() }
        try? FileManager.default.removeItem(at: scratch)
    }

    /// What the server logged so far: the access log among it.
    public var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM and waits for the server to finish; its exit status, or nil if it had to
    /// be killed after 10 s.
    @discardableResult
    public func stop() -> Int32? {
        kill(process.processIdentifier, SIGTERM)
        for _ in 0..<400 {
            if !process.isRunning { return process.terminationStatus }
            usleep(25_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return nil
    }

    /// Kills the server at once (`kill -9`), whatever it is doing.
    public func killNow() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Runs curl with `arguments` against a path of the server; its status line and headers
    /// (`-D -`) come first in the output.
    public func curl(_ path: String, _ arguments: [String] = []) throws -> TestSupport.ProcessResult {
        try TestSupport.run("curl", ["-s", "-S", "--path-as-is", "-D", "-"] + arguments + [url + path])
    }
}
