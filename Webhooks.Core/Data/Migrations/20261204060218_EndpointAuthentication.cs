using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Webhooks.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class EndpointAuthentication : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "auth",
                table: "endpoints",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "auth_summary",
                table: "endpoints",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "token_refreshed",
                table: "delivery_attempts",
                type: "boolean",
                nullable: false,
                defaultValue: false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "auth",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "auth_summary",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "token_refreshed",
                table: "delivery_attempts");
        }
    }
}
