using System.Buffers;

namespace Webhooks.Receiver.Sdk;

/// <summary>
/// A request body read into pooled memory that grows as bytes actually arrive. It is never sized from the
/// request's <c>Content-Length</c>, which an unauthenticated client chooses: a client that declares 1 MiB and
/// then stalls holds <see cref="InitialSize"/> bytes, not 1 MiB.
/// </summary>
internal sealed class RequestBody : IDisposable
{
    internal const int InitialSize = 4096;

    private byte[] _buffer;
    private int _length;

    private RequestBody(byte[] buffer) => _buffer = buffer;

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, _length);

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, _length);

    /// <summary>Reads the whole body, or returns null as soon as more than <paramref name="max"/> bytes arrived.</summary>
    public static async Task<RequestBody?> ReadAsync(Stream stream, long max, CancellationToken cancellationToken)
    {
        var body = new RequestBody(ArrayPool<byte>.Shared.Rent(InitialSize));
        try
        {
            while (true)
            {
                if (body._length == body._buffer.Length)
                {
                    // Room for one byte past the limit, so a body of exactly max bytes is told from a longer one.
                    body.Grow(max + 1);
                }
                var read = await stream.ReadAsync(body._buffer.AsMemory(body._length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return body;
                }
                body._length += read;
                if (body._length > max)
                {
                    body.Dispose();
                    return null;
                }
            }
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    private void Grow(long limit)
    {
        var size = (int)Math.Min((long)_buffer.Length * 2, limit);
        var larger = ArrayPool<byte>.Shared.Rent(size);
        Span.CopyTo(larger);
        Return();
        _buffer = larger;
    }

    private void Return()
    {
        // Webhook bodies may carry personal data: nothing of one is left for the pool's next user to read.
        _buffer.AsSpan(0, _length).Clear();
        ArrayPool<byte>.Shared.Return(_buffer);
    }

    public void Dispose()
    {
        if (_buffer.Length > 0)
        {
            Return();
            _buffer = [];
            _length = 0;
        }
    }
}
