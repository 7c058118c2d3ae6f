import Testing
import VTagTestSupport
