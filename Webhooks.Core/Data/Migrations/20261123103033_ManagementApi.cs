using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Webhooks.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class ManagementApi : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "deleted_at",
                table: "endpoints",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "request_headers",
                table: "delivery_attempts",
                type: "jsonb",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "trigger",
                table: "deliveries",
                type: "text",
                nullable: false,
                defaultValue: "scheduled");

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "deleted_at",
                table: "applications",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_messages_application_id_event_type_id",
                table: "messages",
                columns: new[] { "application_id", "event_type", "id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_messages_application_id_event_type_id",
                table: "messages");

            migrationBuilder.DropColumn(
                name: "deleted_at",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "request_headers",
                table: "delivery_attempts");

            migrationBuilder.DropColumn(
                name: "trigger",
                table: "deliveries");

            migrationBuilder.DropColumn(
                name: "deleted_at",
                table: "applications");
        }
    }
}
