import Foundation

/// moto's S3-compatible server (PyPI, `moto[server]`) on a free port of 127.0.0.1, for one
/// test; it keeps everything in memory and forgets it when stopped.
public final class MotoServer: @unchecked Sendable {
    private let process: Process
    private let log: URL
    public let port: Int
    /// `http://127.0.0.1:PORT`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// `settings` go into the server's environment: `INITIAL_NO_AUTH_ACTION_COUNT=N` has it
    /// check credentials from the N+1st request on (it knows none, so refuses every key); the
    /// one request that finds the server up is the first.
    public init(settings: [String: String] = [:]) throws {
        guard TestSupport.hasProgram("moto_server") else {
            throw TestSupportError("moto_server is missing: pip install -r Scripts/python-packages")
        }
        log = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("moto-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        var lastError = ""
        for _ in 0..<5 {
            // Below the kernel's ephemeral ports (32768 and up), which clients take.
            let port = Int.random(in: 20_000..<32_000)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["moto_server", "-H", "127.0.0.1", "-p", String(port)]
            process.environment = ProcessInfo.processInfo.environment.merging(settings) { $1 }
            let output = try FileHandle(forWritingTo: log)
            process.standardOutput = output
            process.standardError = output
            try process.run()
            for _ in 0..<200 where process.isRunning {
                if (try? TestSupport.run("curl", ["-s", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]))?.status == 0 {
                    self.process = process
                    self.port = port
                    return
                }
                usleep(50_000)
            }
            lastError = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        throw TestSupportError("moto_server did not start: \(lastError)")
    }

    /// Makes a bucket (moto takes unsigned requests for this).
    public func createBucket(_ name: String) throws {
        let result = try TestSupport.run("curl", ["-s", "-f", "-X", "PUT", "\(endpoint)/\(name)"])
        guard result.status == 0 else {
            throw TestSupportError("cannot create bucket \(name): \(result.standardError)")
        }
    }

    /// The request lines the server logged so far (`"PUT /bucket/key HTTP/1.1" 200`), oldest
    /// first.
    public func requestLines() -> [String] {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let start = line.firstIndex(of: "\""), let end = line[line.index(after: start)...].firstIndex(of: "\"")
            else { return nil }
            return String(line[line.index(after: start)..<end])
        }
    }

    /// The environment of a process that uses this server's buckets: moto's test credentials
    /// in the standard variables, and no shared credentials file.
    public static var clientEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = "testing"
        environment["AWS_SECRET_ACCESS_KEY"] = "testing"
        environment["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
        environment.removeValue(forKey: "AWS_SESSION_TOKEN")
        environment.removeValue(forKey: "AWS_PROFILE")
        return environment
    }

    public func stop() {
        if process.isRunning {
            // It ignores SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: log)
    }

    deinit { stop() }
}
