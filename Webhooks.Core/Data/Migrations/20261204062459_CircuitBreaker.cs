using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Webhooks.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class CircuitBreaker : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "circuit_breaker_threshold",
                table: "endpoints",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "circuit_opened_at",
                table: "endpoints",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "circuit_probe_id",
                table: "endpoints",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "circuit_reopens",
                table: "endpoints",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "circuit_retry_at",
                table: "endpoints",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "held_due_at",
                table: "deliveries",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "endpoint_events",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    endpoint_id = table.Column<string>(type: "text", nullable: false),
                    application_id = table.Column<string>(type: "text", nullable: false),
                    kind = table.Column<string>(type: "text", nullable: false),
                    data = table.Column<string>(type: "jsonb", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_endpoint_events", x => x.id);
                    table.ForeignKey(
                        name: "fk_endpoint_events_endpoints_endpoint_id",
                        column: x => x.endpoint_id,
                        principalTable: "endpoints",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_endpoints_circuit_retry_at",
                table: "endpoints",
                column: "circuit_retry_at",
                filter: "circuit_retry_at IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_deliveries_held",
                table: "deliveries",
                columns: new[] { "endpoint_id", "held_due_at" },
                filter: "held_due_at IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_endpoint_events_created_at",
                table: "endpoint_events",
                column: "created_at");

            migrationBuilder.CreateIndex(
                name: "ix_endpoint_events_endpoint_id_id",
                table: "endpoint_events",
                columns: new[] { "endpoint_id", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "endpoint_events");

            migrationBuilder.DropIndex(
                name: "ix_endpoints_circuit_retry_at",
                table: "endpoints");

            migrationBuilder.DropIndex(
                name: "ix_deliveries_held",
                table: "deliveries");

            migrationBuilder.DropColumn(
                name: "circuit_breaker_threshold",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "circuit_opened_at",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "circuit_probe_id",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "circuit_reopens",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "circuit_retry_at",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "held_due_at",
                table: "deliveries");
        }
    }
}
