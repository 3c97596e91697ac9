using Webhooks.Testing;

namespace Webhooks.Receiver.Sdk.Tests;

[CollectionDefinition(StackFixture.Collection)]
public sealed class StackCollection : ICollectionFixture<StackFixture>;
