using Xunit;

namespace Webhooks.Testing;

/// <summary>
/// Disposes the shared <see cref="TestStack"/> when the test run ends. Each test assembly that uses the stack
/// declares <c>[CollectionDefinition(StackFixture.Collection)] public class StackCollection : ICollectionFixture&lt;StackFixture&gt;;</c>
/// and marks its classes <c>[Collection(StackFixture.Collection)]</c>.
/// </summary>
public sealed class StackFixture : IAsyncLifetime
{
    public const string Collection = "stack";

    public TestStack Stack { get; private set; } = null!;

    public async Task InitializeAsync() => Stack = await TestStack.GetAsync();

    public async Task DisposeAsync() => await Stack.DisposeAsync();
}
