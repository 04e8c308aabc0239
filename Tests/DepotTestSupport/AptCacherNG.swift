import Foundation

/// Debian's caching proxy for apt, `apt-cacher-ng`, on a free port of 127.0.0.1 with a cache
/// of its own, for one test. It may fetch from any port (`AllowUserPorts: 0`) and revalidates
/// every index on every request (`FreshIndexMaxAge: 0`), so that what it hands apt is what the
/// server's answers to its revalidations say.
public final class AptCacherNG: @unchecked Sendable {
    private let process: Process
    private let directory: URL
    public let port: Int

    /// `http://127.0.0.1:PORT`, for `Acquire::http::Proxy`.
    public var proxy: String { "http://127.0.0.1:\(port)" }

    public init() throws {
        let program = "/usr/sbin/apt-cacher-ng"
        guard FileManager.default.isExecutableFile(atPath: program) else {
            throw TestSupportError("apt-cacher-ng is missing: apt-get install apt-cacher-ng")
        }
        directory = try TestSupport.makeTemporaryDirectory("acng")
        for folder in ["conf", "cache", "log"] {
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        var lastLog = ""
        for _ in 0..<5 {
            let port = Int.random(in: 20_000..<32_000)
            let path = directory.path
            try """
                CacheDir: \(path)/cache
                LogDir: \(path)/log
                Port: \(port)
                BindAddress: 127.0.0.1
                ForeGround: 1
                AllowUserPorts: 0
                FreshIndexMaxAge: 0
                PidFile: \(path)/pid
                SocketPath: \(path)/socket
                UnbufferLogs: 1

                """.write(to: directory.appendingPathComponent("conf/acng.conf"), atomically: true, encoding: .utf8)
            let log = directory.appendingPathComponent("output")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = ["-c", directory.appendingPathComponent("conf").path]
            let output = try FileHandle(forWritingTo: log)
            process.standardOutput = output
            process.standardError = output
            try process.run()
            for _ in 0..<100 where process.isRunning {
                let probe = try TestSupport.run(
                    "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/acng-report.html"])
                if probe.text != "000" && !probe.text.isEmpty {
                    self.process = process
                    self.port = port
                    return
                }
                usleep(50_000)
            }
            lastLog = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        throw TestSupportError("apt-cacher-ng did not start: \(lastLog)")
    }

    public func stop() {
        if process.isRunning {
            // It keeps running on SIGTERM while a connection it reuses is open; its cache is
            // thrown away anyway.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}
