import ImageCore

/// Container and video-stream properties of an opened input.
public struct VideoInfo: Sendable, Equatable {
  /// The input as given.
  public var input: String
  /// The container format's short name(s), e.g. `mov,mp4,m4a,3gp,3g2,mj2`, `matroska,webm`.
  public var formatName: String
  /// Duration in seconds (the video stream's, else the container's), or `nil` when unknown (live streams, pipes).
  public var duration: Double?
  /// Average frame rate in frames per second (`avg_frame_rate`, else `r_frame_rate`), or `nil` when unknown.
  public var frameRate: Double?
  /// Coded width in pixels, before rotation.
  public var width: Int
  /// Coded height in pixels, before rotation.
  public var height: Int
  /// Decoder name of the video codec, e.g. `h264`, `vp9`, `mpeg4`.
  public var codecName: String
  /// The decoder's pixel format name, e.g. `yuv420p`, or `nil` when the container does not say.
  public var pixelFormat: String?
  /// Clockwise rotation in degrees (0, 90, 180 or 270) that turns the coded picture upright, from the stream's display
  /// matrix. This is the rotation the `ffmpeg` command line applies with `-autorotate`; `ffprobe` reports the matrix as
  /// the counter-clockwise angle, i.e. `(360 - rotation) % 360`.
  public var rotation: Int
  /// The stream time base (`num/den` seconds per tick).
  public var timeBase: (num: Int32, den: Int32)
  /// The stream's start time in seconds (its first presentation time), or `nil` when the container does not say.
  public var startTime: Double?
  /// The number of frames the container declares, or `nil` when it does not say.
  public var declaredFrameCount: Int?
  /// Container bit rate in bits per second, or `nil`.
  public var bitRate: Int?
  /// True when the input can seek (a regular file); false for pipes and most live streams.
  public var isSeekable: Bool
  /// True when the input is treated as live: frames are dropped rather than slowing the source.
  public var isLive: Bool
  /// Index of the chosen stream in the container.
  public var streamIndex: Int

  /// Width of the upright picture (after ``rotation``).
  public var displayWidth: Int { rotation % 180 == 0 ? width : height }
  /// Height of the upright picture (after ``rotation``).
  public var displayHeight: Int { rotation % 180 == 0 ? height : width }

  public static func == (a: VideoInfo, b: VideoInfo) -> Bool {
    a.input == b.input && a.formatName == b.formatName && a.duration == b.duration && a.frameRate == b.frameRate
      && a.width == b.width && a.height == b.height && a.codecName == b.codecName && a.pixelFormat == b.pixelFormat
      && a.rotation == b.rotation && a.timeBase == b.timeBase && a.startTime == b.startTime
      && a.declaredFrameCount == b.declaredFrameCount && a.bitRate == b.bitRate && a.isSeekable == b.isSeekable
      && a.isLive == b.isLive && a.streamIndex == b.streamIndex
  }
}

/// Which decoded frames a source delivers.
public enum FrameSampling: Sendable, Equatable {
  /// Every frame.
  case all
  /// The frame nearest to each of the times 0, s, 2s, … (seconds, relative to the stream start) up to the last frame;
  /// a frame nearest to several targets is delivered once. Frames in between are decoded but never converted.
  case every(seconds: Double)
  /// Key frames only: the decoder is told to skip non-key frames (`skip_frame = AVDISCARD_NONKEY`).
  case keyframes
  /// `count` frames, the ones nearest to the centres of `count` equal slices of the duration,
  /// `t_i = duration · (i + 0.5) / count`. Seekable inputs seek to each target instead of decoding everything;
  /// inputs that cannot seek are decoded through and sampled the same way; an input without a known duration yields
  /// its first frame only. Targets after the last frame are served by the last frame.
  case uniform(count: Int)
}

/// The swscale filter used to scale frames.
public enum ScaleFilter: String, Sendable, Equatable, CaseIterable {
  /// `SWS_BILINEAR`: a bilinear filter whose support widens with the downscale factor (like PIL's), the default.
  case bilinear
  /// `SWS_AREA`: averages the source pixels under each destination pixel.
  case area
  /// `SWS_BICUBIC`.
  case bicubic
}

/// What pixels a delivered frame carries. Conversion happens on the decode thread, and only for delivered frames.
public enum FrameOutput: Sendable, Equatable {
  /// Timing only: no pixels (``DecodedFrame/image`` is `nil`). For probing and benchmarks.
  case none
  /// `sws_scale` straight from the decoded pixel format to `width × height` RGB (aspect ratio not kept, as the
  /// models' `Resize((384, 384))`), after turning the picture upright.
  case scaled(width: Int, height: Int, filter: ScaleFilter)
  /// The full-resolution upright picture in RGB (swscale without scaling), e.g. for the PIL-exact resize.
  case fullResolution

  /// 384 × 384 RGB with the bilinear filter: the models' input size.
  public static let modelInput = FrameOutput.scaled(
    width: ModelInput.defaultSize, height: ModelInput.defaultSize, filter: .bilinear)
}

/// One decoded video frame.
public struct DecodedFrame: Sendable {
  /// The frame's number in the stream, 0-based, in presentation order. Exact when every earlier frame was decoded
  /// (``FrameSampling/all`` and ``FrameSampling/every(seconds:)``); for ``FrameSampling/keyframes`` and
  /// ``FrameSampling/uniform(count:)``, which skip or seek over frames, it is `round(t · frameRate)`
  /// (see ``indexIsExact``).
  public var index: Int
  /// False when ``index`` was estimated from the time.
  public var indexIsExact: Bool
  /// Presentation time in seconds **relative to the stream start**: `(pts − start_pts) · time_base`, where
  /// `start_pts` is the stream's declared start time (else the first frame's pts). Correct for variable frame rate.
  public var t: Double
  /// The raw presentation timestamp in stream time-base ticks (`best_effort_timestamp`), or `nil` when unknown.
  public var pts: Int64?
  /// Absolute presentation time in seconds, `pts · time_base`: what `ffprobe` prints as `pts_time`.
  public var absoluteTime: Double
  /// True for a key frame.
  public var isKeyFrame: Bool
  /// True when the decoder reported damage in this frame (concealed errors, missing references).
  public var isDamaged: Bool
  /// The picture, upright, as requested by ``FrameOutput``; `nil` for ``FrameOutput/none``.
  public var image: RGBImage?

  public init(
    index: Int, indexIsExact: Bool = true, t: Double, pts: Int64?, absoluteTime: Double, isKeyFrame: Bool,
    isDamaged: Bool = false, image: RGBImage? = nil
  ) {
    self.index = index
    self.indexIsExact = indexIsExact
    self.t = t
    self.pts = pts
    self.absoluteTime = absoluteTime
    self.isKeyFrame = isKeyFrame
    self.isDamaged = isDamaged
    self.image = image
  }
}

/// Counters of one run of a source; final once its frame sequence has ended.
public struct SourceStatistics: Sendable, Equatable {
  /// Frames the decoder (or camera) produced.
  public var decodedFrames = 0
  /// Frames handed to the consumer (or to the hand-off buffer).
  public var deliveredFrames = 0
  /// Frames the decoder flagged as damaged.
  public var damagedFrames = 0
  /// Packets the decoder rejected as invalid data (skipped; decoding continues).
  public var rejectedPackets = 0
  /// Live sources only: frames dropped because the consumer was slower than the source.
  public var droppedFrames = 0
  /// Seeks performed (``FrameSampling/uniform(count:)`` on seekable inputs).
  public var seeks = 0
  /// A read error that ended the input early (e.g. a truncated file), or `nil` after a clean end.
  public var readError: String?

  public init() {}
}
