import Foundation

/// Wall and CPU time of one piece of work, and the process's peak memory after it.
struct Measurement {
    var wallSeconds: Double
    var cpuSeconds: Double
    var peakResidentBytes: Int

    /// Runs `work` `repetitions` times and keeps the fastest run: the machine is shared, so
    /// the minimum is the figure least disturbed by others.
    static func best(of repetitions: Int, _ work: () throws -> Void) rethrows -> Measurement {
        var best: Measurement?
        for _ in 0..<repetitions {
            let cpuBefore = cpuTime()
            let start = DispatchTime.now()
            try work()
            let wall = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            let measurement = Measurement(
                wallSeconds: wall, cpuSeconds: cpuTime() - cpuBefore, peakResidentBytes: peakResident())
            if best == nil || wall < best!.wallSeconds { best = measurement }
        }
        return best!
    }

    static func cpuTime() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF_ID, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static func peakResident() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF_ID, &usage)
        return usage.ru_maxrss * 1024
    }
}

let RUSAGE_SELF_ID = Int32(RUSAGE_SELF.rawValue)

/// Runs a command to completion, failing loudly: a benchmark with a broken peer is worthless.
@discardableResult
func shell(_ command: String) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw BenchmarkError("command failed (exit \(process.terminationStatus)): \(command)")
    }
    return data
}

/// Starts a server, its output going to `logPath` (nil: nowhere).
func launchServer(_ executable: String, _ arguments: [String], logPath: String?) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let logPath {
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    } else {
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
    }
    try process.run()
    return process
}

/// Waits, 10 seconds at most, until something answers HTTP on 127.0.0.1:`port`.
func waitForHTTP(port: Int) throws {
    for _ in 0..<200 {
        if (try? shell("curl -s -o /dev/null http://127.0.0.1:\(port)/")) != nil { return }
        usleep(50_000)
    }
    throw BenchmarkError("nothing answers on port \(port)")
}

/// The `depot` binary built beside this one, which the benchmarks run.
func depotBesideBench() throws -> String {
    let depot = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("depot").path
    guard FileManager.default.isExecutableFile(atPath: depot) else {
        throw BenchmarkError("no depot binary beside depot-bench: swift build -c release --static-swift-stdlib first")
    }
    return depot
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func megabytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

func rate(_ bytes: Int, _ seconds: Double) -> String { String(format: "%.0f MB/s", Double(bytes) / seconds / 1e6) }

func seconds(_ value: Double) -> String { String(format: "%.3f s", value) }
