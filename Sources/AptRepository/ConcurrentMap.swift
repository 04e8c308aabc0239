import Dispatch
import Foundation

extension Array where Element: Sendable {
    /// `map` on every core: the transform runs concurrently, the results keep their order,
    /// and the error of the first failing element (in order) is the one thrown.
    public func concurrentMap<Result: Sendable>(_ transform: @Sendable (Element) throws -> Result) throws -> [Result] {
        let results = Slots<Result>(count: count)
        let elements = self
        DispatchQueue.concurrentPerform(iterations: count) { index in
            results.set(index, Swift.Result { try transform(elements[index]) })
        }
        return try (0..<count).map { try results.get($0) }
    }
}

/// Results computed on several threads, each into its own slot.
private final class Slots<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<Value, any Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ slot: Int, _ result: Result<Value, any Error>) {
        lock.withLock { slots[slot] = result }
    }

    func get(_ slot: Int) throws -> Value {
        try lock.withLock { slots[slot] }!.get()
    }
}

/// Work started on another thread now, whose result is collected later: for I/O that can
/// overlap what the calling thread does meanwhile.
public final class BackgroundTask<Value: Sendable>: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    private var result: Result<Value, any Error>?

    public init(_ work: @escaping @Sendable () throws -> Value) {
        DispatchQueue.global().async {
            self.result = Result(catching: work)
            self.finished.signal()
        }
    }

    /// Waits for the work and returns its result, or throws its error.
    public func value() throws -> Value {
        finished.wait()
        defer { finished.signal() }
        return try result!.get()
    }
}
