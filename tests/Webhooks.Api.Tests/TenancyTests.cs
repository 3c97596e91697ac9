using System.Net;
using System.Text.Json;
using Refit;
using Webhooks.Client;
using Webhooks.Testing;

namespace Webhooks.Api.Tests;

/// <summary>API keys scoped to one application see nothing of another's.</summary>
[Collection(StackFixture.Collection)]
public sealed class TenancyTests(StackFixture fixture)
{
    private static async Task<HttpStatusCode> StatusOf(Func<Task> call)
    {
        var error = await Assert.ThrowsAnyAsync<ApiException>(call);
        return error.StatusCode;
    }

    [Fact]
    public async Task An_application_key_gets_404_for_everything_of_another_application()
    {
        var service = await fixture.Stack.ApiAsync();
        var admin = service.Client();
        var mine = await admin.CreateApplicationAsync(new ApplicationIn("tenant a"));
        var theirs = await admin.CreateApplicationAsync(new ApplicationIn("tenant b", "tenant-b-" + Guid.NewGuid().ToString("N")[..8]));
        var theirEndpoint = await admin.CreateEndpointAsync(theirs.Id, new EndpointIn("https://example.com/b"));
        var theirMessage = await admin.PublishAsync(theirs.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = 1 })));

        var created = await admin.CreateApiKeyAsync(new ApiKeyIn("a's key", mine.Id));
        Assert.StartsWith("wh_", created.Key, StringComparison.Ordinal);
        Assert.DoesNotContain(created.Key, JsonSerializer.Serialize(created.ApiKey), StringComparison.Ordinal);
        var a = service.Client(created.Key);

        // Its own application works.
        Assert.Equal(mine.Id, (await a.GetApplicationAsync(mine.Id)).Id);
        await a.CreateEndpointAsync(mine.Id, new EndpointIn("https://example.com/a"));
        await a.PublishAsync(mine.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = 2 })));
        Assert.Equal([mine.Id], (await a.ListApplicationsAsync()).Data.Select(x => x.Id));

        // Another's, by id or uid, is not found, whatever the route.
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.GetApplicationAsync(theirs.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.GetApplicationAsync(theirs.Uid!)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.GetEndpointAsync(theirs.Id, theirEndpoint.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.GetEndpointSecretAsync(theirs.Id, theirEndpoint.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.GetMessageAsync(theirs.Id, theirMessage.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.ListDeliveriesAsync(theirs.Id, theirMessage.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.PublishAsync(theirs.Id, new MessageIn("order.created", JsonSerializer.SerializeToElement(new { n = 3 })))));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.DisableEndpointAsync(theirs.Id, theirEndpoint.Id, new DisableEndpointIn())));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.CreateApiKeyAsync(new ApiKeyIn("sneaky", theirs.Id))));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.UpdateApplicationAsync(theirs.Id, new ApplicationIn("mine now"))));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.DeleteApplicationAsync(theirs.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.UpdateEndpointAsync(theirs.Id, theirEndpoint.Id, new EndpointUpdateIn("https://evil.example/"))));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.DeleteEndpointAsync(theirs.Id, theirEndpoint.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.GetEndpointStatsAsync(theirs.Id, theirEndpoint.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.ListEndpointDeliveriesAsync(theirs.Id, theirEndpoint.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.ListEndpointAttemptsAsync(theirs.Id, theirEndpoint.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.TestEndpointAsync(theirs.Id, theirEndpoint.Id, new EndpointTestIn("order.created"))));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.ListMessagesAsync(theirs.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.CreateEventTypeAsync(theirs.Id, new EventTypeIn("order.created"))));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.ListEventTypesAsync(theirs.Id)));
        // Their message named under my application is not found either.
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.GetMessageAsync(mine.Id, theirMessage.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.ListAttemptsAsync(mine.Id, theirMessage.Id)));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(() => a.ResendAsync(mine.Id, theirMessage.Id, theirEndpoint.Id)));
        // Nor can it widen itself.
        Assert.Equal(HttpStatusCode.Forbidden, await StatusOf(() => a.CreateApplicationAsync(new ApplicationIn("new"))));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusOf(() => a.CreateApiKeyAsync(new ApiKeyIn("admin please"))));
        Assert.False((await admin.GetEndpointAsync(theirs.Id, theirEndpoint.Id)).Disabled);
    }

    [Fact]
    public async Task A_revoked_key_is_refused_and_keys_are_listed_only_within_their_scope()
    {
        var service = await fixture.Stack.ApiAsync();
        var admin = service.Client();
        var app = await admin.CreateApplicationAsync(new ApplicationIn("revocation"));
        var first = await admin.CreateApiKeyAsync(new ApiKeyIn("first", app.Id));
        var second = await admin.CreateApiKeyAsync(new ApiKeyIn("second", app.Id));
        var client = service.Client(first.Key);

        var listed = (await client.ListApiKeysAsync()).Data;
        Assert.Equal([first.Id, second.Id], listed.Select(k => k.Id).Order());
        Assert.All(listed, k => Assert.Equal(app.Id, k.ApplicationId));

        await client.RevokeApiKeyAsync(second.Id);
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusOf(() => service.Client(second.Key).GetApplicationAsync(app.Id)));
        Assert.Equal(app.Id, (await client.GetApplicationAsync(app.Id)).Id);
        await admin.RevokeApiKeyAsync(first.Id);
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusOf(() => client.GetApplicationAsync(app.Id)));
    }

    [Fact]
    public async Task A_key_revoked_through_one_api_replica_is_refused_by_another_that_had_it_cached()
    {
        var service = await fixture.Stack.ApiAsync();
        var admin = service.Client();
        // A replica that would keep what it looked up for an hour: only the broadcast over Redis can make it forget.
        await using var replica = await fixture.Stack.StartApiAsync(new Dictionary<string, string?> { ["Webhooks__Api__LookupCacheSeconds"] = "3600" });
        var app = await admin.CreateApplicationAsync(new ApplicationIn("replicas"));
        var key = await admin.CreateApiKeyAsync(new ApiKeyIn("cached", app.Id));
        var client = replica.Client(key.Key);
        Assert.Equal(app.Id, (await client.GetApplicationAsync(app.Id)).Id);

        await admin.RevokeApiKeyAsync(key.Id);
        // Pub/sub arrives a moment later: a minute bounds "a moment" on a loaded machine; the cached entry would live an hour.
        var deadline = DateTimeOffset.UtcNow.AddMinutes(1);
        while (!await RefusedAsync(() => client.GetApplicationAsync(app.Id)))
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "The replica still accepts a key revoked through another API process.");
            await Task.Delay(100);
        }
    }

    private static async Task<bool> RefusedAsync(Func<Task> call)
    {
        try
        {
            await call();
            return false;
        }
        catch (ApiException ex) when (ex.StatusCode == HttpStatusCode.Unauthorized)
        {
            return true;
        }
    }

    /// <summary>The 403 problem a refused change answers, and its detail.</summary>
    private static async Task<string> ForbiddenDetailOf(Func<Task> call)
    {
        var error = await Assert.ThrowsAnyAsync<ApiException>(call);
        Assert.Equal(HttpStatusCode.Forbidden, error.StatusCode);
        Assert.Equal("application/problem+json", error.ContentHeaders?.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(error.Content!);
        return problem.RootElement.GetProperty("detail").GetString()!;
    }

    [Theory]
    [InlineData("operational")]
    [InlineData("Operational")]
    [InlineData("OPERATIONAL")]
    public async Task An_application_key_cannot_rename_its_application_to_the_operational_uid(string uid)
    {
        var service = await fixture.Stack.ApiAsync();
        var admin = service.Client();
        var mine = await admin.CreateApplicationAsync(new ApplicationIn("would-be operator", "tenant-" + Guid.NewGuid().ToString("N")[..8]));
        var key = await admin.CreateApiKeyAsync(new ApiKeyIn("tenant key", mine.Id));
        var tenant = service.Client(key.Key);

        var detail = await ForbiddenDetailOf(() => tenant.UpdateApplicationAsync(mine.Id, new ApplicationIn("ops now", uid)));
        Assert.Contains("reserved", detail, StringComparison.Ordinal);

        // Nothing changed: not the uid, not the name, not the update time.
        Assert.Equal(mine, await admin.GetApplicationAsync(mine.Id));
        // And no application key can take it at creation either (it cannot create at all).
        Assert.Equal(HttpStatusCode.Forbidden, await StatusOf(() => tenant.CreateApplicationAsync(new ApplicationIn("ops", uid))));
    }

    [Fact]
    public async Task Only_an_admin_key_changes_or_deletes_the_operational_application_and_takes_its_uid_after_a_delete()
    {
        // An API of its own whose reserved uid no other test uses: the uid is unique across the shared database.
        var reserved = "ops-" + Guid.NewGuid().ToString("N")[..8];
        await using var service = await fixture.Stack.StartApiAsync(new Dictionary<string, string?>
        {
            ["Webhooks__Delivery__OperationalApplicationUid"] = reserved,
        });
        var admin = service.Client();
        var operational = await admin.CreateApplicationAsync(new ApplicationIn("platform operations", reserved));
        var ownKey = await admin.CreateApiKeyAsync(new ApiKeyIn("operations key", operational.Id));
        var own = service.Client(ownKey.Key);
        var tenantApp = await admin.CreateApplicationAsync(new ApplicationIn("tenant", "tenant-" + Guid.NewGuid().ToString("N")[..8]));
        var tenantKey = await admin.CreateApiKeyAsync(new ApiKeyIn("tenant key", tenantApp.Id));
        var tenant = service.Client(tenantKey.Key);

        // Its own key reads it, but neither renames it, nor gives up its uid, nor deletes it.
        Assert.Equal(operational, await own.GetApplicationAsync(operational.Id));
        Assert.Contains("only an admin key", await ForbiddenDetailOf(() => own.UpdateApplicationAsync(operational.Id, new ApplicationIn("mine now", reserved))), StringComparison.Ordinal);
        await ForbiddenDetailOf(() => own.UpdateApplicationAsync(operational.Id, new ApplicationIn("platform operations", "elsewhere-" + Guid.NewGuid().ToString("N")[..8])));
        await ForbiddenDetailOf(() => own.UpdateApplicationAsync(operational.Id, new ApplicationIn("platform operations")));
        await ForbiddenDetailOf(() => own.DeleteApplicationAsync(operational.Id));
        Assert.Equal(operational, await admin.GetApplicationAsync(operational.Id));
        // Another tenant can neither claim the uid (in any case) nor see that it is taken.
        await ForbiddenDetailOf(() => tenant.UpdateApplicationAsync(tenantApp.Id, new ApplicationIn("tenant", reserved.ToUpperInvariant())));
        Assert.Equal(tenantApp, await admin.GetApplicationAsync(tenantApp.Id));

        // An admin key changes it and deletes it.
        var renamed = await admin.UpdateApplicationAsync(operational.Id, new ApplicationIn("platform operations (eu)", reserved));
        Assert.Equal("platform operations (eu)", renamed.Name);
        await admin.DeleteApplicationAsync(operational.Id);

        // Its uid is free again, for an admin key only.
        await ForbiddenDetailOf(() => tenant.UpdateApplicationAsync(tenantApp.Id, new ApplicationIn("tenant", reserved)));
        Assert.Equal(tenantApp, await admin.GetApplicationAsync(tenantApp.Id));
        var again = await admin.CreateApplicationAsync(new ApplicationIn("platform operations", reserved));
        Assert.Equal(reserved, again.Uid);
        Assert.Equal(again.Id, (await admin.GetApplicationAsync(reserved)).Id);
    }
}
