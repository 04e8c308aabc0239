import Hummingbird
import NIOCore

/// Hummingbird's basic context, and the connection the request came on: so that a change
/// can tell whether its client is still there.
struct DepotRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
